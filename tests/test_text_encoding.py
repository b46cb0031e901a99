"""Tokenizer training, save/load round trip, normalization and truncation."""

import pytest

from data.text_encoding import (
    PAD_ID,
    ConfigError,
    TextEncoder,
    check_encoding_args,
    load_tokenizer,
    pad_batch,
    train_tokenizer,
    truncate,
)

CORPUS = ["A wonderful film.<br /><br />Truly MOVING!", "A dull, awful waste of time.", "The plot was fine."] * 5


def test_tokenizer_round_trip(tmp_path):
    tokenizer = train_tokenizer(CORPUS, vocab_size=100)
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    loaded = load_tokenizer(str(path))
    for text in CORPUS + ["unseen words here"]:
        assert loaded.encode(text).ids == tokenizer.encode(text).ids
    assert loaded.token_to_id("[PAD]") == PAD_ID


def test_normalization_removes_line_breaks_and_lowercases():
    tokenizer = train_tokenizer(CORPUS, vocab_size=100)
    tokens = tokenizer.encode("Truly MOVING!<br />Wonderful").tokens
    assert tokens == ["truly", "moving", "!", "wonderful"]


def test_vocab_size_caps_the_vocabulary():
    assert train_tokenizer(CORPUS, vocab_size=8).get_vocab_size() == 8


@pytest.mark.parametrize(
    "mode, expected",
    [("head", [0, 1, 2, 3]), ("tail", [6, 7, 8, 9]), ("head+tail", [0, 1, 8, 9])],
)
def test_truncation_modes(mode, expected):
    assert truncate(list(range(10)), 4, mode) == expected
    assert truncate([1, 2], 4, mode) == [1, 2]


def test_encoder_truncates_and_keeps_offsets_aligned():
    encoder = TextEncoder(train_tokenizer(CORPUS, vocab_size=100), max_length=3, truncation="head+tail")
    text = "A wonderful film. Truly moving"
    ids, tokens, offsets = encoder.encode_tokens(text)
    assert tokens == ["a", "wonderful", "moving"]
    assert [text[s:e].lower() for s, e in offsets] == tokens
    assert encoder.encode_ids([text]) == [ids]


def test_empty_text_encodes_to_one_unknown_token():
    encoder = TextEncoder(train_tokenizer(CORPUS, vocab_size=100), max_length=5, truncation="head")
    assert encoder.encode_ids([""]) == [[encoder.unk_id]]


def test_pad_batch_pads_to_longest_on_the_right():
    input_ids, lengths = pad_batch([[5, 6, 7], [8]])
    assert input_ids.tolist() == [[5, 6, 7], [8, PAD_ID, PAD_ID]]
    assert lengths.tolist() == [3, 1]


@pytest.mark.parametrize(
    "args, field",
    [((0, 10, "head"), "vocab_size"), ((100, 0, "head"), "max_length"), ((100, -5, "head"), "max_length"),
     ((100, 10, "middle"), "truncation")],
)
def test_bad_encoding_args_name_the_field(args, field):
    with pytest.raises(ConfigError, match=f"data.{field}"):
        check_encoding_args(*args)


def test_corrupt_tokenizer_file_is_named(tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_text('{"not": "a tokenizer"')
    with pytest.raises(ValueError, match="tokenizer.json"):
        load_tokenizer(str(path))
