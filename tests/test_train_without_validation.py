"""`--data.val_fraction 0`: every training row trains, nothing validates, the last epoch is tested and exported."""

from pathlib import Path

import pytest
import torch

from data.sources import SourceSpec, load_labelled_splits
from model.export import load_export
from tests.conftest import accuracy_on_test_split, tiny_fit_args
from train import cli_main


def test_no_validation_split_keeps_every_training_row(tiny_imdb):
    held_out = load_labelled_splits(SourceSpec(str(tiny_imdb), val_fraction=0.1))
    everything = load_labelled_splits(SourceSpec(str(tiny_imdb), val_fraction=0.0))
    assert len(everything.val) == 0
    assert len(everything.train) == len(held_out.train) + len(held_out.val) == 240
    assert len(everything.test) == len(held_out.test)


def test_fit_without_validation_tests_and_exports_the_last_epoch(tiny_imdb, tmp_path):
    cli = cli_main(tiny_fit_args(tiny_imdb, tmp_path, "--data.val_fraction", "0", "--trainer.max_epochs", "3"))
    trainer, run = cli.trainer, Path(cli.trainer.log_dir)
    assert trainer.global_step == 3 * 15  # all 240 training rows in batches of 16
    assert not [name for name in trainer.callback_metrics if name.startswith("val/")]

    checkpoints = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert checkpoints == ["epoch02.ckpt", "last.ckpt"]  # the newest epoch stands in for the best
    last = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    net, _, _ = load_export(run / "export")
    for name, exported in net.state_dict().items():
        assert torch.equal(exported, last["state_dict"]["net." + name]), name
    tested = float(trainer.callback_metrics["test/acc"])
    last_epoch = accuracy_on_test_split(run / "checkpoints" / "last.ckpt", run / "export", tiny_imdb)
    assert tested == pytest.approx(last_epoch, abs=1e-6)


def test_resumed_fit_without_validation_continues_and_keeps_the_newest(tiny_imdb, tmp_path):
    cli_main(tiny_fit_args(tiny_imdb, tmp_path, "--data.val_fraction", "0", "--trainer.max_epochs", "1"))
    resumed = cli_main(tiny_fit_args(tiny_imdb, tmp_path, "--data.val_fraction", "0", "--trainer.max_epochs", "2",
                                     "--ckpt_path", "last"))
    assert resumed.trainer.global_step == 2 * 15
    assert sorted(p.name for p in (Path(resumed.trainer.log_dir) / "checkpoints").iterdir()) == [
        "epoch01.ckpt", "last.ckpt"]


def test_validate_without_validation_rows_is_a_clear_error(tiny_imdb, tmp_path, capsys):
    args = tiny_fit_args(tiny_imdb, tmp_path, "--data.val_fraction", "0")
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["validate"] + args[1:])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "data.val_fraction is 0" in err and "Traceback" not in err


@pytest.mark.parametrize("value", ["1", "-0.1", "1.5"])
def test_val_fraction_outside_zero_to_one_is_refused(tiny_imdb, tmp_path, capsys, value):
    with pytest.raises(SystemExit) as exit_info:
        cli_main(tiny_fit_args(tiny_imdb, tmp_path, "--data.val_fraction", value))
    assert exit_info.value.code == 2
    assert "data.val_fraction must be in [0, 1)" in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.ckpt"))
