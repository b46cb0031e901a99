"""Training and inference throughput of the default config, as JSON.

    python benchmarks/train_throughput.py [--dataset PATH] [--rows 2048] [--threads 2]   # default: paths.DEFAULT_DATASET

Runs the default network (config/default.yaml) on a fixed, seeded slice of the
training data with the data module's own length-bucketed batches, and reports
median ms/step and samples/s for training steps (forward, backward, Adam) and
for inference. As a baseline in the same process it times the textbook
alternative, nn.GRU/nn.LSTM(bidirectional=True) over a PackedSequence, on the
same batches: that ratio is why model/network.py runs right-padded batches.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
import yaml
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


from data.datamodule import ReviewDataModule
from model.network import SentimentNet, SentimentNetConfig
from paths import CONFIG_DIR, DEFAULT_DATASET
from reporting import add_out_argument, emit


class PackedBaseline(nn.Module):
    """The same layers and pooling, with cuDNN-style bidirectional RNNs over packed sequences."""

    def __init__(self, c: SentimentNetConfig) -> None:
        super().__init__()
        self.embedding = nn.Embedding(c.vocab_size, c.embedding_dim, padding_idx=c.pad_id)
        self.gru = nn.GRU(c.embedding_dim, c.gru_hidden, batch_first=True, bidirectional=True)
        self.lstm = nn.LSTM(2 * c.gru_hidden, c.lstm_hidden, batch_first=True, bidirectional=True)
        self.head = nn.Linear(4 * c.lstm_hidden, 1)

    def forward(self, input_ids, lengths):
        packed = pack_padded_sequence(self.embedding(input_ids), lengths, batch_first=True, enforce_sorted=False)
        states, _ = pad_packed_sequence(self.lstm(self.gru(packed)[0])[0], batch_first=True)
        mask = (torch.arange(states.size(1))[None, :] < lengths[:, None]).unsqueeze(-1)
        mean = states.masked_fill(~mask, 0).sum(1) / lengths[:, None]
        return self.head(torch.cat([mean, states.masked_fill(~mask, float("-inf")).amax(1)], -1)).squeeze(-1)


def time_training(net: nn.Module, batches: list[dict]) -> list[float]:
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()
    seconds = []
    for batch in batches:
        start = time.perf_counter()
        logits = net(batch["input_ids"], batch["lengths"])
        loss = nn.functional.binary_cross_entropy_with_logits(logits, batch["labels"].float())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seconds.append(time.perf_counter() - start)
    return seconds


@torch.inference_mode()
def time_inference(net: nn.Module, batches: list[dict]) -> list[float]:
    net.eval()
    seconds = []
    for batch in batches:
        start = time.perf_counter()
        net(batch["input_ids"], batch["lengths"])
        seconds.append(time.perf_counter() - start)
    return seconds


def summarize(seconds: list[float], batches: list[dict]) -> dict:
    samples = sum(len(b["labels"]) for b in batches)
    median_step = statistics.median(seconds)
    return {
        "steps": len(seconds),
        "ms_per_step_median": round(1000 * median_step, 2),
        "samples_per_s": round(samples / sum(seconds), 1),
        "mean_batch_size": round(samples / len(batches), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=str(DEFAULT_DATASET))
    parser.add_argument("--config", default=str(CONFIG_DIR / "default.yaml"))
    parser.add_argument("--rows", type=int, default=2048, help="training rows in the slice (seeded)")
    parser.add_argument("--steps", type=int, default=20, help="batches timed per variant")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--skip-baseline", action="store_true")
    add_out_argument(parser)
    args = parser.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    config = yaml.safe_load(Path(args.config).read_text())
    data_args = {k: v for k, v in config["data"].items() if k != "dataset"}
    dm = ReviewDataModule(dataset=args.dataset, **{**data_args, "max_samples": args.rows})
    dm.prepare_data()
    dm.setup("fit")
    batches = [b for _, b in zip(range(args.steps + 2), dm.train_dataloader())]
    warmup, timed = batches[:2], batches[2:]

    model_args = {k: v for k, v in config["model"].items() if k in SentimentNetConfig.__dataclass_fields__}
    net_config = SentimentNetConfig(vocab_size=dm.vocab_size, **model_args)
    report = {"config": Path(args.config).name, "threads": args.threads, "rows": args.rows,
              "tokens_per_review_mean": round(float(dm.splits["train"].lengths.mean()), 1)}

    variants = {"padded_exact (ours)": SentimentNet(net_config)}
    if not args.skip_baseline and net_config.bidirectional and net_config.pooling == "meanmax":
        variants["packed_sequence (baseline)"] = PackedBaseline(net_config)
    for name, net in variants.items():
        time_training(net, warmup)
        train = summarize(time_training(net, timed), timed)
        time_inference(net, warmup)
        infer = summarize(time_inference(net, timed), timed)
        report[name] = {"train": train, "inference": infer}
    if len(variants) == 2:
        ours, base = (report[k] for k in variants)
        report["train_speedup_vs_packed"] = round(ours["train"]["samples_per_s"] / base["train"]["samples_per_s"], 2)
        report["inference_speedup_vs_packed"] = round(
            ours["inference"]["samples_per_s"] / base["inference"]["samples_per_s"], 2
        )
    emit(report, args.out)


if __name__ == "__main__":
    main()
