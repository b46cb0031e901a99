"""Delimited text files as spreadsheets save them: the encoding and the delimiter to read them with.

    from data.delimited_files import check_encoding, check_delimiter, delimiter_of, decoding_error, header_hint
    sep, sniffed = delimiter_of(path, encoding=None, delimiter=None, field="--input", prefix="--")
    pandas.read_csv(path, sep=sep, encoding=encoding or "utf-8")   # on UnicodeDecodeError:
    raise decoding_error(path, encoding, field="--input", prefix="--")   # on a parser error, add:
    header_hint(path, encoding, sep, prefix="--")   # "; if the columns of 'x.csv' are separated by ';', pass --delimiter ';'"

predict.py (`--encoding`, `--delimiter`) and data/sources.py (`data.encoding`, `data.delimiter`)
both read .csv and .tsv files through these functions, so the two commands agree on every file.
`prefix` is how the caller spells its flags: "--" or "--data.".

Encoding: UTF-8, with or without a byte-order mark, unless one is named. A file that does not
decode is refused by `decoding_error`, which finds the first byte that fails, asks
charset-normalizer what the file looks like around it, shows that line read in the guess and
names the flag that reads it (`pass --encoding cp1252 if that reads right`). It never reads the file
in the guessed encoding: on a few accented letters in mostly English text the detector ranks
cp1250, cp775 and cp1252 alike, and those differ exactly on the accented letters, so a wrong
guess would change texts and scores without failing; and a guessed encoding would be missing
from a training run's saved config, which then would not rerun that run.

Delimiter: the one named; a tab for .tsv; else a comma, unless the header read with commas is a
single column holding ';', a tab or '|' (the "CSV" of a spreadsheet set to another list
separator). Then csv.Sniffer picks among those characters on the file's first 64 KiB, and when it
cannot tell, the error asks for the delimiter flag.
"""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path
from typing import Optional

from data.text_encoding import ConfigError

SNIFFED = ";\t|"  # list separators a spreadsheet may save a .csv with, besides the comma
SAMPLE_BYTES = 64 * 1024  # read to sniff a delimiter, and around a byte that fails to decode
BLOCK_BYTES = 1 << 20
PREFERRED = "cp1252"  # what Excel on Windows saves a CSV in, across Western Europe and the Americas
CHAOS_MARGIN = 2.0  # percentage points of charset-normalizer's "chaos" within which PREFERRED wins
NAMED = {"\\t": "\t", "tab": "\t"}  # a tab is awkward to type on a command line or in YAML


def check_encoding(name: Optional[str], field: str) -> Optional[str]:
    """The encoding as given, if Python has a codec of that name; None stays None (UTF-8)."""
    if name is None:
        return None
    try:
        codecs.lookup(name)
    except (LookupError, TypeError):
        raise ConfigError(f"{field} {name!r} is not an encoding Python knows (e.g. utf-8, cp1252, latin-1, utf-16)") from None
    return name


def text_codec(name: Optional[str]) -> str:
    """The codec that reads `name` as text: UTF-8 (the default) with or without a byte-order mark."""
    if name is None or codecs.lookup(name).name == "utf-8":
        return "utf-8-sig"
    return name


def check_delimiter(value: Optional[str], field: str) -> Optional[str]:
    """One character; `\\t` or `tab` is a tab. None stays None (by extension, or sniffed)."""
    if value is None:
        return None
    value = NAMED.get(str(value), str(value))
    if len(value) != 1 or value in "\"\r\n":
        raise ConfigError(f"{field} must be one character other than a quote or a line break (\\t for a tab), got {value!r}")
    return value


def delimiter_of(path: Path, encoding: Optional[str], delimiter: Optional[str], field: str, prefix: str) -> tuple[str, bool]:
    """(the delimiter to read `path` with, whether it was sniffed)."""
    if delimiter is not None:
        return delimiter, False
    if path.suffix.lower() == ".tsv":
        return "\t", False
    sample = _head(path, encoding)
    header = next(csv.reader(io.StringIO(sample)), [])
    candidates = [c for c in SNIFFED if len(header) == 1 and c in header[0]]
    if not candidates:
        return ",", False
    lines = sample[: sample.rfind("\n") + 1] or sample  # whole lines only: a cut line reads as a short row
    try:
        sniffed = csv.Sniffer().sniff(lines, delimiters="".join(candidates)).delimiter
    except csv.Error:
        sniffed = None
    if sniffed not in candidates:
        raise ConfigError(
            f"{field}: the header of {str(path)!r} is one column, {header[0][:80]!r}, holding "
            f"{' and '.join(map(repr, candidates))}; pass {prefix}delimiter with the character between its columns"
        )
    return sniffed, True


def delimiter_hint(columns: list[str], prefix: str, whose: str = "its columns") -> str:
    """A clause for an error about a file that read as one column holding another separator; else ""."""
    held = [c for c in SNIFFED if len(columns) == 1 and c in str(columns[0])]
    return f"; if {whose} are separated by {held[0]!r}, pass {prefix}delimiter {held[0]!r}" if held else ""


def header_hint(path: Path, encoding: Optional[str], sep: Optional[str], prefix: str) -> str:
    """delimiter_hint for the header of `path` read with `sep` (a comma when None): a parser error
    ("expected 1 fields, saw 2") on a file that a wrong delimiter made one column."""
    header = next(csv.reader(io.StringIO(_head(path, encoding)), delimiter=sep or ","), [])
    return delimiter_hint(header, prefix, f"the columns of {str(path)!r}")


def decoding_error(path: Path, encoding: Optional[str], field: str, prefix: str) -> ConfigError:
    """The error for a file that does not decode: where it fails, what it looks like, the flag that reads it."""
    codec = text_codec(encoding)
    failure = _first_undecodable(path, codec)
    shown = "UTF-8" if encoding is None else encoding
    offset, byte, line = failure if failure else (0, None, None)
    where = f" (byte 0x{byte:02x} on line {line:,})" if failure else ""
    guess = _guess(path, offset)
    if guess and codecs.lookup(guess).name != codecs.lookup(codec).name:
        reads = f"; in {guess} that line reads {_around(path, offset, guess)!r}" if failure else ""
        fix = f"{reads}: pass {prefix}encoding {guess} if that reads right, else the encoding it was saved in"
    else:
        fix = f"; pass {prefix}encoding with the encoding it was saved in (Excel on Windows saves cp1252)"
    return ConfigError(f"{field}: {str(path)!r} is not {shown}{where}{fix}")


def _head(path: Path, encoding: Optional[str]) -> str:
    """The file's first SAMPLE_BYTES as text; "" when they do not decode (the reader then says why)."""
    with open(path, "rb") as f:
        raw = f.read(SAMPLE_BYTES)
    try:
        return codecs.getincrementaldecoder(text_codec(encoding))().decode(raw)  # a cut last character waits
    except UnicodeDecodeError:
        return ""


def _first_undecodable(path: Path, codec: str) -> Optional[tuple[int, int, int]]:
    """(offset, byte, 1-based line) of the first byte `codec` cannot decode, streaming the file; None if none."""
    decoder = codecs.getincrementaldecoder(codec)()
    offset = newlines = 0
    with open(path, "rb") as f:
        while True:
            block = f.read(BLOCK_BYTES)
            pending = len(decoder.getstate()[0])  # bytes of an unfinished character held from the last block
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as error:
                bad = offset - pending + error.start
                return bad, error.object[error.start], newlines + block[: max(0, bad - offset)].count(b"\n") + 1
            if not block:
                return None
            offset += len(block)
            newlines += block.count(b"\n")


def _guess(path: Path, offset: int) -> Optional[str]:
    """charset-normalizer's guess from the file's head and the lines around `offset`; cp1252 when it
    fits the bytes about as well as the best. On a few accented words among English ones the
    detector's ranking is noise: it puts cp775, cp1250, cp1257 (0.9% "chaos" for cp1252's correct
    reading of French and German words, 0% for cp1257's wrong one) or, stopping at the first clean
    fit, a Chinese or Korean encoding first."""
    from charset_normalizer import from_bytes

    with open(path, "rb") as f:
        sample = f.read(SAMPLE_BYTES)
        if offset >= SAMPLE_BYTES // 2:  # the failing byte lies beyond the head: add whole lines around it
            f.seek(max(0, offset - SAMPLE_BYTES // 4))
            around = f.read(SAMPLE_BYTES // 2)
            sample = sample[: sample.rfind(b"\n") + 1] + around[around.find(b"\n") + 1 :]
    best = from_bytes(sample).best()
    western = from_bytes(sample, cp_isolation=[PREFERRED]).best()
    if western is not None and (best is None or western.percent_chaos <= best.percent_chaos + CHAOS_MARGIN):
        return PREFERRED
    return best.encoding if best is not None else None


def _around(path: Path, offset: int, encoding: str, width: int = 40) -> str:
    """Up to `width` bytes either side of `offset`, within its line, decoded as `encoding`."""
    with open(path, "rb") as f:
        f.seek(max(0, offset - width))
        raw = f.read(2 * width + 1)
    before, after = raw[: offset - max(0, offset - width)], raw[offset - max(0, offset - width) :]
    before, after = before[before.rfind(b"\n") + 1 :], after.split(b"\n")[0]
    return (before + after).decode(encoding, errors="replace").strip()
