"""Fault (d): training SIGKILLed mid-epoch resumes from last.ckpt, in the same run folder, and ends
with test metrics in the range of an uninterrupted run.

    .venv/bin/python -m pytest -m slow tests/test_fault_training_resume.py -s

Real processes: `python train.py fit` with the tiny-data arguments is killed with SIGKILL (no
chance to save anything) during epoch 1, after a mid-epoch last.ckpt was written, then
`train.py fit ... --ckpt_path last` is run. The pacer callback (tests/train_pacer.py) only slows
the steps so the kill lands at a known step.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import ROOT, tiny_fit_args
from tests.figures import record_figure

pytestmark = pytest.mark.slow

# Step saves write last.ckpt from the first epoch on (model/training_cli.py); the kill lands 2 steps
# after the first one in epoch 1, so the resumed run has an epoch's validation and ranking behind it.
CHECKPOINT_EVERY = 5
MAX_EPOCHS = 4  # as the tiny_run fixture, the uninterrupted reference


def train_command(tiny_imdb: Path, run_dir: Path, progress: Path, seconds: float, *extra: str) -> list[str]:
    pacer = ["--trainer.callbacks+=tests.train_pacer.PaceSteps", f"--trainer.callbacks.progress_file={progress}",
             f"--trainer.callbacks.seconds={seconds}"]
    return [sys.executable, str(ROOT / "train.py"), *tiny_fit_args(tiny_imdb, run_dir), "--trainer.max_epochs",
            str(MAX_EPOCHS), "--checkpoint.every_n_train_steps", str(CHECKPOINT_EVERY), *pacer, *extra]


def read_progress(progress: Path) -> tuple[int, int, int]:
    """(global step, epoch, batches per epoch) after the last finished step; zeros before the first."""
    try:
        return tuple(int(x) for x in progress.read_text().split())
    except (OSError, ValueError):
        return 0, 0, 0


def checkpoint_step(path: Path) -> int:
    return int(torch.load(path, map_location="cpu", weights_only=False)["global_step"])


def test_sigkill_mid_epoch_resumes_from_last_ckpt(tiny_imdb, tiny_run, tmp_path, request):
    run_dir, progress = tmp_path / "runs", tmp_path / "step.txt"
    with (tmp_path / "first.log").open("w") as log:  # the child keeps its own descriptor
        first = subprocess.Popen(train_command(tiny_imdb, run_dir, progress, 0.6), cwd=ROOT,
                                 stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        while True:
            step, epoch, per_epoch = read_progress(progress)
            saved_step = (per_epoch // CHECKPOINT_EVERY + 1) * CHECKPOINT_EVERY  # the first step checkpoint
            if per_epoch and step >= saved_step + 2:
                break
            assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "training never reached the kill step"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)  # while the pacer sleeps after that step
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == -signal.SIGKILL
    killed_step, killed_epoch, _ = read_progress(progress)  # the last step the process finished
    assert killed_epoch == 1 and saved_step < killed_step < saved_step + CHECKPOINT_EVERY < 2 * per_epoch
    (version_dir,) = (run_dir / "imdb").iterdir()
    last = version_dir / "checkpoints" / "last.ckpt"
    assert checkpoint_step(last) == saved_step  # the mid-epoch checkpoint is what survives
    assert not (version_dir / "metrics.json").exists()

    started, started_wall = time.monotonic(), time.time()
    resumed = subprocess.run(train_command(tiny_imdb, run_dir, progress, 0.0, "--ckpt_path", "last"), cwd=ROOT,
                             capture_output=True, text=True, timeout=600)
    resume_s = time.monotonic() - started
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    first_step, _, first_time = progress.with_suffix(".first").read_text().split()
    assert int(first_step) == saved_step  # continued from the checkpoint, not from step 0
    assert read_progress(progress)[0] == MAX_EPOCHS * per_epoch  # the whole schedule, each step once
    assert [p.name for p in (run_dir / "imdb").iterdir()] == [version_dir.name]  # same run folder
    metrics = json.loads((version_dir / "metrics.json").read_text())
    reference = json.loads((tiny_run / "metrics.json").read_text())  # the same recipe, never interrupted
    assert abs(metrics["test/acc"] - reference["test/acc"]) <= 0.1
    assert abs(metrics["test/auroc"] - reference["test/auroc"]) <= 0.1
    record_figure(request, "training_resume", {
        "killed_at_step": killed_step, "resumed_from_step": int(first_step), "final_step": MAX_EPOCHS * per_epoch,
        "resume_to_first_step_s": round(float(first_time) - started_wall, 2),
        "resume_total_s": round(resume_s, 1),
        "test_acc": round(metrics["test/acc"], 4), "reference_test_acc": round(reference["test/acc"], 4),
    })
