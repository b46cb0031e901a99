"""train.py end to end through its own CLI function: fit, test, export, resume, DDP, bad configs."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import ROOT, SHARED_IMDB, tiny_fit_args
from model.export import load_export
from train import cli_main


def test_fit_writes_metrics_checkpoints_and_export(tiny_run):
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert {"test/acc", "test/f1", "test/auroc", "test/loss"} <= set(metrics)
    assert metrics["test/acc"] >= 0.8  # the tiny data's cue words are easy to learn
    checkpoints = {p.name for p in (tiny_run / "checkpoints").iterdir()}
    assert "last.ckpt" in checkpoints and any(name.startswith("epoch") for name in checkpoints)
    assert {"network.pt", "tokenizer.json", "model_config.json"} <= {p.name for p in (tiny_run / "export").iterdir()}


def test_export_scores_like_the_trained_module(tiny_run, tiny_imdb):
    """The export holds the best checkpoint's weights and preprocessing."""
    from model.lit_module import SentimentClassifier

    best = max((tiny_run / "checkpoints").glob("epoch*.ckpt"), key=lambda p: float(p.stem.split("val_acc")[1]))
    module = SentimentClassifier.load_from_checkpoint(best, map_location="cpu").eval()
    net, encoder, config = load_export(tiny_run / "export")
    assert config["preprocessing"] == {"max_length": 48, "truncation": "head+tail"}
    input_ids, lengths = encoder.batch(["a wonderful moving film", "dull awful waste", "the plot"])
    with torch.no_grad():
        assert torch.allclose(module(input_ids, lengths), net(input_ids, lengths), atol=1e-6)


def test_last_checkpoint_holds_the_final_epoch(tiny_run):
    """Also after epochs that did not improve val/acc: resuming continues, it does not go back."""
    last = torch.load(tiny_run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    best = next((tiny_run / "checkpoints").glob("epoch*.ckpt"))
    assert last["epoch"] == 3 and last["global_step"] == 4 * 14  # 216 training rows in batches of 16
    assert torch.load(best, map_location="cpu", weights_only=False)["global_step"] <= last["global_step"]


def test_vocab_size_flows_from_data_to_model(tiny_run):
    _, _, config = load_export(tiny_run / "export")
    assert config["network"]["vocab_size"] == 200  # given once, as --data.vocab_size


def test_tensorboard_events_hold_curves_and_hyperparameters(tiny_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags, plugin_tags = set(), set()
    for events in tiny_run.glob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events), size_guidance={"tensors": 0})
        accumulator.Reload()
        tags |= set(accumulator.Tags()["scalars"])
        for plugin in ("hparams", "pr_curves"):
            try:
                plugin_tags |= set(accumulator.PluginTagToContent(plugin))
            except KeyError:  # this events file holds nothing of that plugin
                pass
    assert {"train/loss", "val/loss", "val/acc", "test/acc"} <= tags
    assert "_hparams_/session_start_info" in plugin_tags and "test/pr_curve" in plugin_tags


def test_test_subcommand_evaluates_a_checkpoint(tiny_run, tiny_imdb, tmp_path):
    args = tiny_fit_args(tiny_imdb, tmp_path)
    args[0] = "test"
    args = [a for a in args if a not in ("--trainer.max_epochs", "2")]
    cli = cli_main([*args, "--ckpt_path", str(tiny_run / "checkpoints" / "last.ckpt")])
    metrics = json.loads((Path(cli.trainer.log_dir) / "metrics.json").read_text())
    assert 0.0 <= metrics["test/acc"] <= 1.0


def test_resume_from_last_checkpoint(tiny_imdb, tmp_path):
    first = cli_main(tiny_fit_args(tiny_imdb, tmp_path, "--trainer.max_epochs", "1"))
    steps_per_epoch = first.trainer.global_step
    resumed = cli_main(tiny_fit_args(tiny_imdb, tmp_path, "--trainer.max_epochs", "3", "--ckpt_path", "last"))
    assert resumed.trainer.current_epoch == 3
    assert resumed.trainer.global_step == 3 * steps_per_epoch  # continued, not restarted
    assert resumed.trainer.log_dir == first.trainer.log_dir  # same run folder


def test_print_config_writes_a_rerunnable_yaml(tiny_imdb, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_main(tiny_fit_args(tiny_imdb, tmp_path) + ["--print_config"])
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    assert "vocab_size: 200" in printed and "truncation: head+tail" in printed


@pytest.mark.parametrize(
    "override, field",
    [
        (["--data.dataset", "./no/such/folder"], "data.dataset"),
        (["--data.vocab_size", "0"], "data.vocab_size"),
        (["--data.max_length", "0"], "data.max_length"),
        (["--data.max_length", "-3"], "data.max_length"),
        (["--data.truncation", "middle"], "truncation"),
        (["--model.lr", "0"], "model.lr"),
    ],
)
def test_bad_config_stops_before_training_with_a_clear_message(tiny_imdb, tmp_path, capsys, override, field):
    with pytest.raises(SystemExit) as exit_info:
        cli_main(tiny_fit_args(tiny_imdb, tmp_path) + override)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert field in err
    assert "Traceback" not in err
    assert not list(tmp_path.rglob("*.ckpt"))


def test_dataset_without_text_and_label_stops_with_a_clear_message(tmp_path, capsys):
    from tests.conftest import write_hub_dataset

    folder = write_hub_dataset(tmp_path / "wrong", n_train=40, n_test=10, columns=("review", "sentiment"))
    with pytest.raises(SystemExit):
        cli_main(tiny_fit_args(folder, tmp_path))
    assert "needs columns 'text' and 'label'" in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.ckpt"))


def run_train_py(args, cwd, timeout=600):
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow
def test_ddp_with_two_cpu_processes(tiny_imdb, tmp_path):
    args = tiny_fit_args(tiny_imdb, tmp_path, "--trainer.accelerator", "cpu", "--trainer.devices", "2",
                         "--trainer.strategy", "ddp")
    result = run_train_py(args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = list(tmp_path.glob("imdb/version_*"))
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0.0 <= metrics["test/acc"] <= 1.0
    load_export(run / "export")
    # Each rank trains on its own half: 216 training rows -> 108 per rank -> 7 batches of 16 per epoch.
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert checkpoint["global_step"] == 2 * 7


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_IMDB.is_dir(), reason="../shared/imdb not present")
def test_smoke_fit_on_a_real_imdb_sample(tmp_path):
    args = tiny_fit_args(SHARED_IMDB, tmp_path, "--data.max_samples", "400", "--data.vocab_size", "3000",
                         "--data.max_length", "128", "--trainer.max_epochs", "1")
    cli = cli_main(args)
    metrics = json.loads((Path(cli.trainer.log_dir) / "metrics.json").read_text())
    assert 0.0 <= metrics["test/acc"] <= 1.0 and metrics["test/loss"] > 0
