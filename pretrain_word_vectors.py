"""Word vectors for the classifier's embedding: word2vec over the training rows and an unlabelled split.

    python pretrain_word_vectors.py --config config/semi_supervised/word_vectors.yaml --data.dataset ../shared/imdb
    python train.py fit ... --model.pretrained_encoder runs/semi/word_vectors/encoder.pt

The text is the language model's (data.lm_datamodule: the labelled training rows plus the
unlabelled split, tokenized by the classifier's own tokenizer); validation and test text train
nothing. Writes into `<run_dir>`: `encoder.pt` (the embedding alone, with the tokenizer's digest,
which `model.pretrained_encoder` checks), `metrics.json` (reviews, tokens, wall and CPU time) and
`config.yaml`. Rerunning overwrites them; the stage is one process of minutes, not resumed.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Optional

import numpy as np
from jsonargparse import ActionConfigFile, ArgumentParser

from data.datamodule import ReviewDataModule
from data.lm_datamodule import LanguageModelDataModule
from data.text_encoding import ConfigError
from model.lm_module import ENCODER_FILE
from model.word_vectors import fit_word_vectors, save_embedding


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="pretrain_word_vectors.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", action=ActionConfigFile)
    parser.add_argument("--run_dir", type=str, default="runs/semi/word_vectors", help="where encoder.pt and metrics go")
    parser.add_class_arguments(
        ReviewDataModule, "data",
        skip={"label_names", "batch_size", "num_workers", "bucket_batches", "teacher_targets", "short_texts"},
    )
    parser.add_argument("--data.lm_unlabelled_split", type=Optional[str], default="unsupervised",
                        help="a split without labels whose reviews join the training rows' text; null = those alone")
    parser.add_function_arguments(fit_word_vectors, "word2vec", skip={"rows", "vocab_size", "pad_id"})
    return parser


def main(args: Optional[list[str]] = None) -> dict:
    parser = build_parser()
    config = parser.parse_args(args)
    try:
        return pretrain_word_vectors(parser, config)
    except ConfigError as error:
        print(f"pretrain_word_vectors.py: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def pretrain_word_vectors(parser: ArgumentParser, config) -> dict:
    run_dir = Path(config.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    parser.save(config, str(run_dir / "config.yaml"), overwrite=True, skip_validation=True)
    wall, cpu = time.perf_counter(), time.process_time()
    data = LanguageModelDataModule(**config.data.as_dict())
    data.prepare_data()
    data.setup("fit")
    rows = [np.asarray(ids, dtype=np.int64) for ids in data.splits["train"].encoded["input_ids"]]
    weight = fit_word_vectors(rows, vocab_size=data.vocab_size, **config.word2vec.as_dict())
    save_embedding(weight, run_dir / ENCODER_FILE, data.tokenizer_path)
    metrics = {
        "reviews": len(rows),
        "tokens": int(sum(len(row) for row in rows)),
        "vector_size": int(weight.shape[1]),
        "wall_s": round(time.perf_counter() - wall, 1),
        "cpu_s": round(time.process_time() - cpu, 1),
    }
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"word vectors of {metrics['reviews']:,} reviews ({metrics['tokens']:,} tokens) written to "
          f"{run_dir / ENCODER_FILE} ({metrics['wall_s']:.0f} s wall, {metrics['cpu_s']:.0f} s CPU)")
    return metrics


if __name__ == "__main__":
    main()
