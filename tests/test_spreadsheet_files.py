"""Files as spreadsheets save them, for predict.py and train.py: encodings, delimiters, TSV, a header alone.

    .venv/bin/python -m pytest tests/test_spreadsheet_files.py

Each file is written twice: as a spreadsheet would (a byte-order mark, Windows-1252, semicolons,
tabs) and as plain UTF-8 CSV, its twin. What the commands read from the first must equal what
they read from the twin: the same scores from predict.py, the same texts and labels for train.py.
A file they cannot read must be refused with the flag that reads it, and that flag must work.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from data.sources import SourceSpec, load_labelled_splits
from data.text_encoding import ConfigError
from predict import main as predict_main
from tests.conftest import tiny_fit_args
from tests.own_data_files import CLASSES_2, cue_rows, make_random_export, write_parquet
from train import cli_main

ACCENTED = ["très émouvant", "un café naïve", "mise en scène ratée", "déjà vu, à éviter", "schöne Grüße"]


def reviews(n: int = 24) -> list[dict]:
    """Rows with accented words in every text: they are what an encoding changes."""
    return [{"id": i, "text": f"{r['text']} {ACCENTED[i % len(ACCENTED)]}", "label": r["label"]}
            for i, r in enumerate(cue_rows(n, CLASSES_2))]


def write_table(path: Path, rows: list[dict], encoding: str = "utf-8", delimiter: str = ",") -> Path:
    with open(path, "w", newline="", encoding=encoding) as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


def one_error_line(err: str, prefix: str) -> str:
    errors = [line for line in err.splitlines() if line.startswith(prefix)]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


# -- predict.py ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    return make_random_export(tmp_path_factory.mktemp("export"), ["negative", "positive"])


def predict(export: Path, source: Path, output: Path, *extra: str) -> int:
    return predict_main(["--export", str(export), "--input", str(source), "--output", str(output),
                         "--text-column", "text", "--prefix", "pred_", "--chunk-rows", "7", "--no-progress", *extra])


def scored(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:  # the output is UTF-8, whatever the input was
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def twin(export, tmp_path_factory) -> list[dict]:
    """The plain UTF-8 comma-separated file's scored rows, which every spreadsheet form must match."""
    folder = tmp_path_factory.mktemp("twin")
    assert predict(export, write_table(folder / "plain.csv", reviews()), folder / "out.csv") == 0
    rows = scored(folder / "out.csv")
    assert list(rows[0]) == ["id", "text", "label", "pred_label", "pred_score"] and "très émouvant" in rows[0]["text"]
    return rows


@pytest.mark.parametrize(
    "name, encoding, delimiter, extra",
    [
        ("bom.csv", "utf-8-sig", ",", []),
        ("latin1.csv", "latin-1", ",", ["--encoding", "latin-1"]),
        ("windows.csv", "cp1252", ",", ["--encoding", "cp1252"]),
        ("semicolons.csv", "utf-8", ";", []),  # sniffed
        ("pipes.csv", "utf-8", "|", []),  # sniffed
        ("tabs.csv", "utf-8", "\t", []),  # sniffed
        ("named.csv", "utf-8", ";", ["--delimiter", ";"]),
        ("excel.csv", "cp1252", ";", ["--encoding", "cp1252"]),  # a French Excel's "CSV": both at once
        ("reviews.tsv", "utf-8", "\t", []),
        ("escaped.tsv", "utf-8", "\t", ["--delimiter", "\\t"]),
        ("utf16.tsv", "utf-16", "\t", ["--encoding", "utf-16"]),  # Excel's "Unicode text"
    ],
)
def test_spreadsheet_forms_score_as_their_utf8_twin(export, twin, tmp_path, capsys, name, encoding, delimiter, extra):
    source = write_table(tmp_path / name, reviews(), encoding, delimiter)
    assert predict(export, source, tmp_path / "out.csv", *extra) == 0
    assert scored(tmp_path / "out.csv") == twin
    sniffed = delimiter != "," and "--delimiter" not in extra and source.suffix == ".csv"
    assert ("sniffed from its header" in capsys.readouterr().err) == sniffed


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_windows_file_is_refused_with_the_flag_that_reads_it(export, twin, tmp_path, capsys, encoding):
    source = write_table(tmp_path / "windows.csv", reviews(), encoding)
    assert predict(export, source, tmp_path / "out.csv") == 2
    error = one_error_line(capsys.readouterr().err, "predict.py: error: ")
    assert "is not UTF-8 (byte 0x" in error and "on line 2)" in error and "très émouvant" in error
    flag = re.search(r"pass --encoding (\S+)", error).group(1)
    assert flag == "cp1252"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["windows.csv"]  # nothing written
    assert predict(export, source, tmp_path / "out.csv", "--encoding", flag) == 0
    assert scored(tmp_path / "out.csv") == twin


def test_a_bad_byte_after_the_first_chunks_names_its_line_and_leaves_nothing(export, tmp_path, capsys):
    rows = [{"id": i, "text": f"plain review {i}"} for i in range(40)]
    rows[30]["text"] = "très émouvant"
    source = write_table(tmp_path / "late.csv", rows, "latin-1")
    assert predict(export, source, tmp_path / "out.csv", "--chunk-rows", "4") == 2
    assert "(byte 0xe8 on line 32)" in capsys.readouterr().err  # header + rows 0..30
    assert sorted(p.name for p in tmp_path.iterdir()) == ["late.csv"]


def test_plain_text_reads_a_byte_order_mark_and_other_encodings(export, tmp_path):
    texts = [r["text"] for r in reviews(6)]
    (tmp_path / "bom.txt").write_text("\n".join(texts) + "\n", encoding="utf-8-sig")
    (tmp_path / "latin1.txt").write_text("\n".join(texts) + "\n", encoding="latin-1")
    assert predict(export, tmp_path / "bom.txt", tmp_path / "a.csv") == 0
    assert predict(export, tmp_path / "latin1.txt", tmp_path / "b.csv", "--encoding", "latin-1") == 0
    assert [r["text"] for r in scored(tmp_path / "a.csv")] == texts  # no "\ufeff" before the first review
    assert scored(tmp_path / "a.csv") == scored(tmp_path / "b.csv")


def test_ambiguous_one_column_header_asks_for_the_delimiter(export, tmp_path, capsys):
    source = tmp_path / "odd.csv"
    source.write_text("id;text|score\n1;a fine film|b;c|d|e\n", encoding="utf-8")
    assert predict(export, source, tmp_path / "out.csv") == 2
    error = one_error_line(capsys.readouterr().err, "predict.py: error: ")
    assert "is one column, 'id;text|score', holding ';' and '|'; pass --delimiter" in error
    assert predict(export, source, tmp_path / "out.csv", "--delimiter", ";") == 2  # a wrong choice: rows differ
    assert predict(export, source, tmp_path / "out.csv", "--delimiter", ",", "--text-column", "id;text|score") == 0


@pytest.mark.parametrize("commas", [True, False])
def test_a_wrong_delimiter_names_the_one_the_column_holds(export, tmp_path, capsys, commas):
    rows = [dict(r, text=r["text"] if commas else r["text"].replace(",", "")) for r in reviews(8)]
    assert any("," in r["text"] for r in rows) == commas  # with commas the parser fails; without, a column is missing
    source = write_table(tmp_path / "semicolons.csv", rows, delimiter=";")
    assert predict(export, source, tmp_path / "out.csv", "--delimiter", ",") == 2
    error = one_error_line(capsys.readouterr().err, "predict.py: error: ")
    assert error.endswith("are separated by ';', pass --delimiter ';'")
    assert ("its columns are ['id;text;label']" in error) != commas


@pytest.mark.parametrize("name, delimiter", [("header.csv", ","), ("header.tsv", "\t"), ("header-semicolons.csv", ";")])
def test_a_header_alone_scores_to_a_header_alone(export, tmp_path, name, delimiter):
    source = tmp_path / name
    source.write_text(delimiter.join(["id", "text", "note"]) + "\n", encoding="utf-8")
    assert predict(export, source, tmp_path / "out.csv") == 0
    assert (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines() == ["id,text,note,pred_label,pred_score"]
    assert predict(export, source, tmp_path / "out.jsonl") == 0
    assert (tmp_path / "out.jsonl").read_text(encoding="utf-8") == ""


def test_a_parquet_file_of_no_rows_keeps_its_columns(export, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": pa.array([], pa.int64()), "text": pa.array([], pa.string())}), tmp_path / "none.parquet")
    assert predict(export, tmp_path / "none.parquet", tmp_path / "out.csv") == 0
    assert (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines() == ["id,text,pred_label,pred_score"]


def test_a_header_alone_still_needs_the_text_column(export, tmp_path, capsys):
    (tmp_path / "header.csv").write_text("id,review\n", encoding="utf-8")
    assert predict(export, tmp_path / "header.csv", tmp_path / "out.csv") == 2
    assert "--text-column 'text' is not a column of" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize(
    "source, extra, message",
    [
        ("in.csv", ["--encoding", "klingon"], "--encoding 'klingon' is not an encoding Python knows"),
        ("in.csv", ["--delimiter", "::"], "--delimiter must be one character"),
        ("in.jsonl", ["--encoding", "latin-1"], "--encoding applies to .csv, .tsv and .txt inputs"),
        ("in.parquet", ["--delimiter", ";"], "--delimiter applies to .csv and .tsv inputs, not .parquet"),
    ],
)
def test_flags_that_cannot_apply_are_refused(export, tmp_path, capsys, source, extra, message):
    rows = reviews(3)
    writers = {".csv": write_table, ".jsonl": lambda p, r: p.write_text("".join(json.dumps(x) + "\n" for x in r)),
               ".parquet": write_parquet}
    path = tmp_path / source
    writers[path.suffix](path, rows)
    assert predict(export, path, tmp_path / "out.csv", *extra) == 2
    assert message in one_error_line(capsys.readouterr().err, "predict.py: error: ")


# -- train.py's loader (data/sources.py) --------------------------------------------------------


def splits_of(path: Path, **options) -> list:
    splits = load_labelled_splits(SourceSpec(str(path), **options))
    return [(name, list(split.texts["text"]), split.labels.tolist()) for name, split in splits.items()]


@pytest.mark.parametrize(
    "name, encoding, delimiter, options",
    [
        ("bom.csv", "utf-8-sig", ",", {}),
        ("latin1.csv", "latin-1", ",", {"encoding": "latin-1"}),
        ("semicolons.csv", "utf-8", ";", {}),
        ("excel.csv", "cp1252", ";", {"encoding": "cp1252", "delimiter": ";"}),
        ("reviews.tsv", "utf-8", "\t", {}),
        ("pipes.csv", "utf-8", "|", {"delimiter": "|"}),
    ],
)
def test_training_reads_spreadsheet_forms_as_their_utf8_twin(tmp_path, name, encoding, delimiter, options):
    rows = reviews(40)
    expected = splits_of(write_table(tmp_path / "plain.csv", rows))
    assert splits_of(write_table(tmp_path / name, rows, encoding, delimiter), **options) == expected


def test_training_refuses_a_windows_file_with_the_flag_that_reads_it(tmp_path):
    path = write_table(tmp_path / "windows.csv", reviews(40), "cp1252")
    with pytest.raises(ConfigError, match=r"^data.dataset: '.*windows.csv' is not UTF-8 \(byte 0x.. on line 2\).*"
                                          r"pass --data.encoding cp1252 if that reads right"):
        splits_of(path)


@pytest.mark.parametrize(
    "content, message",
    [
        ("", r"data.dataset: '.*empty.csv' is empty: no header, no rows"),
        ("text,label\n", r"data.dataset: '.*empty.csv' has a header and no rows: there is nothing to train on"),
        ("text;label\n", r"data.dataset: '.*empty.csv' has a header and no rows"),
    ],
)
def test_training_refuses_an_empty_or_header_only_file_by_name(tmp_path, content, message):
    (tmp_path / "empty.csv").write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        splits_of(tmp_path / "empty.csv")


def test_a_folder_of_semicolon_files_reads_with_the_delimiter_it_is_told(tmp_path):
    rows = reviews(40)
    for folder, delimiter in (("plain", ","), ("semicolons", ";")):
        (tmp_path / folder).mkdir()
        write_table(tmp_path / folder / "train.csv", rows, delimiter=delimiter)
    with pytest.raises(ConfigError, match=r"cannot read '.*semicolons': .*; if the columns of '.*train.csv' are "
                                          r"separated by ';', pass --data.delimiter ';'$"):
        splits_of(tmp_path / "semicolons")
    assert splits_of(tmp_path / "semicolons", delimiter=";") == splits_of(tmp_path / "plain")


def test_training_options_that_cannot_apply_are_refused(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in reviews(10)), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"data.encoding and data.delimiter apply to .csv and .tsv files, not to"):
        splits_of(path, encoding="latin-1")
    with pytest.raises(ConfigError, match=r"data.delimiter must be one character"):
        splits_of(write_table(tmp_path / "r.csv", reviews(10)), delimiter="ab")


# -- train.py end to end ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, flags, message",
    [
        ("text,label\n", [], "has a header and no rows"),
        ("windows", [], "is not UTF-8 (byte 0xe8 on line 2)"),
        ("windows", ["--data.encoding", "klingon"], "data.encoding 'klingon' is not an encoding Python knows"),
    ],
)
def test_train_py_stops_with_one_line_and_writes_nothing(tmp_path, capsys, content, flags, message):
    data = tmp_path / "reviews.csv"
    if content == "windows":
        write_table(data, reviews(40), "cp1252")
    else:
        data.write_text(content, encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        cli_main(tiny_fit_args(data, tmp_path / "runs", *flags))
    assert exit_info.value.code == 2
    line = one_error_line(capsys.readouterr().err, "train.py: error: ")
    assert message in line and (str(data) in line or "klingon" in message)
    assert not (tmp_path / "runs").exists()


def test_train_py_fits_a_windows_semicolon_file_with_its_flags(tmp_path):
    """data.encoding and data.delimiter reach the loader through the CLI and the saved config."""
    data = write_table(tmp_path / "excel.csv", reviews(120), "cp1252", ";")
    cli = cli_main(tiny_fit_args(data, tmp_path / "runs", "--data.encoding", "cp1252", "--data.delimiter", ";",
                                 "--trainer.max_epochs", "1"))
    run = Path(cli.trainer.log_dir)
    assert (run / "export").is_dir() and cli.datamodule.source.encoding == "cp1252"
    saved = (run / "config.yaml").read_text(encoding="utf-8")
    assert "encoding: cp1252" in saved and "delimiter: ;" in saved
