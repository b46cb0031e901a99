"""StopAtAccuracy and scripts/bench_tta.py on the tiny data: stop at the first validation at target, test that checkpoint."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from paths import ROOT
from tests.conftest import accuracy_on_test_split, tiny_fit_args
from train import cli_main


def test_training_stops_at_the_first_validation_that_reaches_the_target(tiny_imdb, tmp_path):
    report_path = tmp_path / "tta.json"
    cli = cli_main(tiny_fit_args(
        tiny_imdb, tmp_path, "--trainer.max_epochs", "6", "--trainer.val_check_interval", "0.5",
        "--trainer.callbacks+=model.time_to_accuracy.StopAtAccuracy",
        "--trainer.callbacks.target", "0.7", "--trainer.callbacks.report_path", str(report_path),
    ))
    report = json.loads(report_path.read_text())
    assert report["value"] >= 0.7
    steps_per_epoch = 14  # 216 training rows in batches of 16
    assert cli.trainer.global_step == report["global_step"] < 6 * steps_per_epoch
    assert cli.trainer.checkpoint_callback.best_model_score >= 0.7


def test_unreachable_target_trains_to_the_end_without_a_report(tiny_imdb, tmp_path):
    report_path = tmp_path / "tta.json"
    cli = cli_main(tiny_fit_args(
        tiny_imdb, tmp_path, "--trainer.callbacks+=model.time_to_accuracy.StopAtAccuracy",
        "--trainer.callbacks.target", "1.01", "--trainer.callbacks.report_path", str(report_path),
    ))
    assert not report_path.exists() and cli.trainer.global_step == 2 * 14


@pytest.mark.slow  # a 6-epoch fit in a subprocess, then a test pass
def test_bench_tta_reports_the_test_accuracy_of_the_checkpoint_that_reached_the_target(tiny_imdb, tmp_path):
    tiny_network = [
        "--data.vocab_size", "200", "--data.max_length", "48", "--data.batch_size", "16",
        "--model.embedding_dim", "16", "--model.gru_hidden", "8", "--model.lstm_hidden", "8", "--model.lr", "0.02",
        "--trainer.max_epochs", "6", "--trainer.logger.init_args.save_dir", str(tmp_path),
    ]
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_tta.py"), "--dataset", str(tiny_imdb), "--target", "0.7",
         "--", *tiny_network],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads(completed.stdout)
    assert result["reached"] and result["val_acc_at_target"] >= 0.7
    assert 0 < result["seconds_to_target"] <= result["fit_wall_s"]
    # The checkpoint kept is the validation the callback recorded: its step and its accuracy ...
    run = Path(result["run_dir"])
    (checkpoint,) = (run / "checkpoints").glob("epoch*.ckpt")
    saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
    steps_per_epoch = 14  # 216 training rows in batches of 16
    assert saved["global_step"] / steps_per_epoch == pytest.approx(result["epoch_fraction"], abs=1e-3)
    assert float(checkpoint.stem.split("val_acc")[1]) == pytest.approx(result["val_acc_at_target"], abs=1e-4)
    # ... and the test accuracy reported is that checkpoint's, recomputed here on the test split.
    expected = accuracy_on_test_split(checkpoint, run / "export", tiny_imdb)
    assert result["test_acc_of_that_checkpoint"] == pytest.approx(expected, abs=1e-4)
