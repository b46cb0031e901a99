"""network.onnx: written with every export, equal to PyTorch within 1e-5, exact under padding, refused when it differs.

    .venv/bin/python -m pytest tests/test_export_writer.py
"""

from __future__ import annotations

import onnxruntime
import pytest
import torch

import model.export_writer as export_writer
from data.text_encoding import pad_batch
from model.export import ONNX_FILE, load_export
from model.export_writer import TOLERANCE, OnnxMismatch, max_difference, random_sequences, save_export, write_checked_onnx
from model.network import SentimentNet, SentimentNetConfig, class_probabilities
from tests.random_export import make_random_export

CONFIG = SentimentNetConfig(vocab_size=100, embedding_dim=8, gru_hidden=4, lstm_hidden=4)


def make_net(seed: int) -> SentimentNet:
    torch.manual_seed(seed)
    return SentimentNet(CONFIG).eval()


def onnx_probabilities(path, sequences) -> torch.Tensor:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    input_ids, lengths = pad_batch(sequences)
    (logits,) = session.run(None, {"input_ids": input_ids.numpy(), "lengths": lengths.numpy()})
    return class_probabilities(torch.from_numpy(logits))


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    return make_random_export(tmp_path_factory.mktemp("onnx"))


def test_every_export_has_an_onnx_file_equal_to_pytorch(export_dir):
    net, encoder, _ = load_export(export_dir)
    sequences = random_sequences(encoder.tokenizer.get_vocab_size(), encoder.max_length, n=64, seed=7)
    assert (export_dir / ONNX_FILE).is_file()
    assert max_difference(export_dir / ONNX_FILE, net, sequences) <= TOLERANCE


@pytest.mark.parametrize("batch_size", [1, 3, 17])
def test_onnx_answers_every_batch_size_like_pytorch(export_dir, batch_size):
    # The exporter warns that RNN initial states may be fixed to the traced batch size (2 rows).
    net, _, _ = load_export(export_dir)
    sequences = random_sequences(CONFIG.vocab_size, 30, n=batch_size, seed=batch_size)
    with torch.no_grad():
        expected = class_probabilities(net(*pad_batch(sequences)))
    assert torch.allclose(onnx_probabilities(export_dir / ONNX_FILE, sequences), expected, atol=TOLERANCE)


def test_a_review_scores_the_same_alone_and_among_longer_ones(export_dir):
    review = [5, 17, 3, 42, 8, 9]
    longer = random_sequences(CONFIG.vocab_size, 60, n=5, seed=3)
    longer = [s + [7] * (61 - len(s)) for s in longer]  # all longer than the review
    alone = onnx_probabilities(export_dir / ONNX_FILE, [review])
    among = onnx_probabilities(export_dir / ONNX_FILE, longer[:2] + [review] + longer[2:])
    assert torch.allclose(alone[0], among[2], atol=TOLERANCE), (alone[0], among[2])


def test_a_different_network_is_refused_and_nothing_is_written(tmp_path, monkeypatch):
    served, other = make_net(0), make_net(1)
    sequences = random_sequences(CONFIG.vocab_size, 40, n=32)
    real_export = export_writer.export_onnx
    # The graph that gets written is another network's: the check against `served` must catch it.
    monkeypatch.setattr(export_writer, "export_onnx", lambda net, path: real_export(other, path))
    with pytest.raises(OnnxMismatch, match="differ by"):
        write_checked_onnx(tmp_path / ONNX_FILE, served, sequences)
    assert list(tmp_path.iterdir()) == []


def test_the_same_network_is_written_with_its_difference(tmp_path):
    net = make_net(0)
    worst = write_checked_onnx(tmp_path / ONNX_FILE, net, random_sequences(CONFIG.vocab_size, 40, n=32))
    assert 0.0 <= worst <= TOLERANCE
    assert sorted(p.name for p in tmp_path.iterdir()) == [ONNX_FILE]


def test_float16_exports_match_the_rounded_weights_serving_loads(tmp_path, export_dir):
    net = make_net(2)
    directory = save_export(tmp_path / "fp16", net, export_dir / "tokenizer.json",
                            {"max_length": 64, "truncation": "head+tail"}, weights_dtype="float16")
    served, _, _ = load_export(directory)
    sequences = random_sequences(CONFIG.vocab_size, 64, n=32, seed=5)
    assert max_difference(directory / ONNX_FILE, served, sequences) <= TOLERANCE


def test_check_needs_inputs(tmp_path):
    with pytest.raises(ValueError, match="needs token-id sequences"):
        write_checked_onnx(tmp_path / ONNX_FILE, make_net(0), [])


# -- network.int8.onnx -----------------------------------------------------------------------------


def test_every_export_has_an_int8_file_close_to_float32(export_dir):
    from model.export import ONNX_INT8_FILE

    _, encoder, _ = load_export(export_dir)
    sequences = random_sequences(encoder.tokenizer.get_vocab_size(), encoder.max_length, n=64, seed=7)
    full = onnx_probabilities(export_dir / ONNX_FILE, sequences)
    quantized = onnx_probabilities(export_dir / ONNX_INT8_FILE, sequences)
    assert 0 < float((full - quantized).abs().max()) < 0.05  # quantized, so not equal; close, so usable


def test_int8_check_states_agreement_and_refuses_below_the_bar(export_dir, tmp_path):
    _, encoder, _ = load_export(export_dir)
    sequences = random_sequences(encoder.tokenizer.get_vocab_size(), encoder.max_length, n=32, seed=3)
    check = export_writer.write_int8_onnx(export_dir / ONNX_FILE, tmp_path / "kept.onnx", sequences)
    assert check["checked_on"] == 32 and 0.99 <= check["label_agreement"] <= 1.0
    assert check["max_probability_difference"] > 0
    with pytest.raises(OnnxMismatch, match="not written"):
        export_writer.write_int8_onnx(export_dir / ONNX_FILE, tmp_path / "refused.onnx", sequences, min_agreement=1.01)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.onnx"]


def test_an_export_whose_int8_twin_disagrees_is_written_without_it(tmp_path, export_dir, monkeypatch):
    from model.export import ONNX_INT8_FILE

    net, _, _ = load_export(export_dir)
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / ONNX_INT8_FILE).write_bytes(b"an earlier network's")
    strict = export_writer.write_int8_onnx
    monkeypatch.setattr(export_writer, "write_int8_onnx", lambda *args, **kw: strict(*args, **kw, min_agreement=1.01))
    with pytest.warns(UserWarning, match="precision int8 is unavailable"):
        save_export(folder, net, export_dir / "tokenizer.json", {"max_length": 64, "truncation": "head+tail"})
    assert (folder / ONNX_FILE).is_file() and not (folder / ONNX_INT8_FILE).exists()
