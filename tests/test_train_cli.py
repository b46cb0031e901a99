"""train.py end to end through its own CLI function: fit, test, export, resume, DDP, bad configs."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from data.text_encoding import pad_batch
from model.export import load_export
from paths import DEFAULT_DATASET, ROOT
from tests.conftest import tiny_fit_args
from train import cli_main


def test_fit_writes_metrics_checkpoints_and_export(tiny_run):
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert {"test/acc", "test/f1", "test/auroc", "test/loss"} <= set(metrics)
    assert metrics["test/acc"] >= 0.8  # the tiny data's cue words are easy to learn
    # last.ckpt is the end of the run (tiny_run: 4 epochs of 14 steps); the one epoch checkpoint kept is the
    # best the callback saw, and the one fit tested and exported (test_export_scores_like_the_trained_module).
    last = torch.load(tiny_run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert last["global_step"] == 4 * 14
    (best,) = (tiny_run / "checkpoints").glob("epoch*.ckpt")
    (checkpointing,) = [state for key, state in last["callbacks"].items() if key.startswith("BestAndLastCheckpoint")]
    assert Path(checkpointing["best_model_path"]) == best
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


def test_last_checkpoint_follows_epochs_that_did_not_improve(tiny_imdb, tmp_path):
    """Learning rates go to 0 after epoch 0, so epochs 1-3 cannot improve val/acc: the best checkpoint
    stays epoch 0 while last.ckpt must still hold epoch 3, or `--ckpt_path last` would go back in time."""
    cli = cli_main(tiny_fit_args(tiny_imdb, tmp_path, "--trainer.max_epochs", "4",
                                 "--trainer.callbacks+=tests.train_pacer.FreezeAfterFirstEpoch"))
    checkpoints = Path(cli.trainer.log_dir) / "checkpoints"
    (best,) = checkpoints.glob("epoch*.ckpt")
    assert best.name.startswith("epoch00-")
    last = torch.load(checkpoints / "last.ckpt", map_location="cpu", weights_only=False)
    assert last["epoch"] == 3 and last["global_step"] == 4 * 14  # 216 training rows in batches of 16


def test_step_checkpoints_keep_the_best_checkpoint_at_the_validated_weights(tiny_imdb, tmp_path):
    """With saves every 4 steps (14 an epoch), the best checkpoint must still be an epoch's end, the weights
    its val/acc was measured on, and scored with that epoch's val/acc."""
    from scripts.run_summary import summarize

    cli = cli_main(tiny_fit_args(tiny_imdb, tmp_path, "--trainer.max_epochs", "4", "--checkpoint.every_n_train_steps", "4"))
    log_dir = Path(cli.trainer.log_dir)
    val_acc = {e["step"] + 1: e["val_acc"] for e in summarize(log_dir)["val_acc_per_epoch"]}  # logged at step - 1
    assert sorted(val_acc) == [14, 28, 42, 56]
    (best,) = (log_dir / "checkpoints").glob("epoch*.ckpt")
    saved = torch.load(best, map_location="cpu", weights_only=False)
    assert saved["global_step"] in val_acc  # not a step save after the validation
    (state,) = [v for k, v in saved["callbacks"].items() if k.startswith("BestAndLastCheckpoint")]
    assert float(state["best_model_score"]) == pytest.approx(val_acc[saved["global_step"]], abs=5e-5)
    assert val_acc[saved["global_step"]] == max(val_acc.values())
    assert cli.trainer.checkpoint_callback.best_model_path == str(best)


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


def test_test_subcommand_reproduces_the_fit_runs_test_metrics(tiny_run, tiny_imdb, tmp_path):
    """fit tests its best checkpoint; `test` on that same checkpoint must give the same figures."""
    best = next((tiny_run / "checkpoints").glob("epoch*.ckpt"))
    args = [a for a in tiny_fit_args(tiny_imdb, tmp_path) if a not in ("--trainer.max_epochs", "2")]
    args[0] = "test"
    cli = cli_main([*args, "--ckpt_path", str(best)])
    tested = json.loads((Path(cli.trainer.log_dir) / "metrics.json").read_text())
    fitted = json.loads((tiny_run / "metrics.json").read_text())
    assert tested.keys() == fitted.keys()
    for name, value in fitted.items():
        assert tested[name] == pytest.approx(value, abs=1e-6), name


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
    assert "data.text_column 'text' is not a column" in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.ckpt"))


def run_train_py(args, cwd, timeout=600):
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow
def test_ddp_ranks_train_on_different_rows(tiny_imdb, tmp_path):
    rows = tmp_path / "rows"
    args = tiny_fit_args(tiny_imdb, tmp_path, "--trainer.accelerator", "cpu", "--trainer.devices", "2",
                         "--trainer.strategy", "ddp", "--trainer.callbacks+=tests.train_pacer.RecordRows",
                         f"--trainer.callbacks.folder={rows}")
    result = run_train_py(args, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = list(tmp_path.glob("imdb/version_*"))
    assert {"test/acc", "test/loss"} <= set(json.loads((run / "metrics.json").read_text()))
    load_export(run / "export")
    seen = [(rows / f"rows-rank{rank}.txt").read_text().splitlines() for rank in (0, 1)]
    # 216 training rows: 108 per rank, none on both, all of them between the two.
    assert len(seen[0]) == len(seen[1]) == 108
    assert not set(seen[0]) & set(seen[1])
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert checkpoint["global_step"] == 2 * 7  # 7 batches of 16 per rank and epoch


@pytest.mark.slow
@pytest.mark.requires_imdb
def test_smoke_fit_on_a_real_imdb_sample(tmp_path):
    args = tiny_fit_args(DEFAULT_DATASET, tmp_path, "--data.max_samples", "400", "--data.vocab_size", "3000",
                         "--data.max_length", "128", "--trainer.max_epochs", "1")
    cli = cli_main(args)
    run = Path(cli.trainer.log_dir)
    metrics = json.loads((run / "metrics.json").read_text())
    # The export must score the same real test rows as the tested checkpoint did.
    datamodule = cli.datamodule
    net, encoder, _ = load_export(run / "export")
    test = datamodule.splits["test"]
    correct = 0
    for start in range(0, len(test), 64):
        ids = [test[i][0] for i in range(start, min(start + 64, len(test)))]
        labels = [test[i][1] for i in range(start, min(start + 64, len(test)))]
        scores = net.predict_proba(*pad_batch(ids))
        correct += sum(int(s >= 0.5) == y for s, y in zip(scores.tolist(), labels))
    assert metrics["test/acc"] == pytest.approx(correct / len(test), abs=1e-6)
