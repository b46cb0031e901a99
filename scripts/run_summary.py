"""One training run at a glance, as JSON: val/acc per epoch, the best, and the test metrics.

    python scripts/run_summary.py runs/imdb/version_0

Reads the run folder's TensorBoard events (written while training, so it works mid-run)
and metrics.json when the run has finished; docs/experiments.md rows are made from this.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def summarize(run_dir: Path) -> dict:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    val_acc: dict[int, float] = {}
    epoch_at_step: dict[int, int] = {}
    for events in sorted(run_dir.glob("events.out.tfevents.*")):
        accumulator = EventAccumulator(str(events), size_guidance={"scalars": 0})
        accumulator.Reload()
        tags = accumulator.Tags()["scalars"]
        if "epoch" in tags:
            epoch_at_step.update({e.step: int(e.value) for e in accumulator.Scalars("epoch")})
        if "val/acc" in tags:
            val_acc.update({e.step: e.value for e in accumulator.Scalars("val/acc")})
    per_epoch = [
        {"epoch": epoch_at_step.get(step, -1) + 1, "step": step, "val_acc": round(acc, 4)} for step, acc in sorted(val_acc.items())
    ]
    summary: dict = {"run": str(run_dir), "val_acc_per_epoch": per_epoch}
    if per_epoch:
        best = max(per_epoch, key=lambda row: row["val_acc"])
        summary["best_val_acc"], summary["best_epoch"] = best["val_acc"], best["epoch"]
    metrics = run_dir / "metrics.json"
    if metrics.exists():
        summary["test"] = {k: round(v, 4) for k, v in json.loads(metrics.read_text()).items()}
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    print(json.dumps(summarize(parser.parse_args().run_dir), indent=2))


if __name__ == "__main__":
    main()
