"""Time to accuracy: wall time from `train.py fit` start until val/acc first reaches a target, as JSON.

    python scripts/bench_tta.py [--dataset PATH] [--config config/fast.yaml] [--target 0.851]   # default: paths.DEFAULT_DATASET

Runs `train.py fit` as a child process with model.time_to_accuracy.StopAtAccuracy, which stops
training at the first validation that reaches the target; `fit` then tests that checkpoint.
Prints seconds to the target, the validation accuracy there, the test accuracy of that
checkpoint and the whole command's wall time. The clock starts before the child starts, so
imports, data loading and (on a cold cache) tokenizer training and encoding count.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from paths import CONFIG_DIR, DEFAULT_DATASET, ROOT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=str(DEFAULT_DATASET))
    parser.add_argument("--config", default=str(CONFIG_DIR / "fast.yaml"))
    parser.add_argument("--target", type=float, default=0.851)
    parser.add_argument("extra", nargs="*", help="more train.py arguments, after --")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "tta.json"
        command = [
            sys.executable, str(ROOT / "train.py"), "fit", "--config", args.config, "--data.dataset", args.dataset,
            "--trainer.callbacks+=model.time_to_accuracy.StopAtAccuracy",
            "--trainer.callbacks.target", str(args.target), "--trainer.callbacks.report_path", str(report_path),
            "--trainer.enable_progress_bar", "false", *args.extra,
        ]
        start = time.time()
        completed = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL)
        total = time.time() - start
        if completed.returncode != 0:
            sys.exit(f"bench_tta: train.py exited with {completed.returncode}")
        result: dict = {"config": args.config, "target": args.target, "fit_wall_s": round(total, 1)}
        if not report_path.exists():
            result.update(reached=False)
        else:
            report = json.loads(report_path.read_text())
            metrics = json.loads((ROOT / report["run_dir"] / "metrics.json").read_text())
            result.update(
                reached=True,
                seconds_to_target=round(report["reached_at_unix"] - start, 1),
                val_acc_at_target=report["value"],
                epoch_fraction=report["epoch_fraction"],
                test_acc_of_that_checkpoint=round(metrics["test/acc"], 4),
                run_dir=report["run_dir"],
            )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
