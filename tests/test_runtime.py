"""serving.runtime.Predictor: the runtime the settings name, length-sorted sub-batches, answers in order.

    .venv/bin/python -m pytest tests/test_runtime.py
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from model.export import ONNX_FILE, load_export
from model.network import class_probabilities
from model.network_config import probabilities_from_logits
from serving.answers import answers
from serving.runtime import OnnxRuntimeSession, Predictor, TorchSession, plan_sub_batches
from serving.settings import HandlerSettings
from tests.conftest import make_review
from tests.random_export import make_random_export

RUNTIMES = ["onnx", "torch"]


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    return make_random_export(tmp_path_factory.mktemp("runtime"))


@pytest.fixture(autouse=True)
def torch_threads():
    """The torch runtime sets the process's thread count (a worker's own); give later tests theirs back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def mixed_texts(n: int = 24, seed: int = 0) -> list[str]:
    """Reviews of 5 to ~300 words: short and long ones together, as TorchServe batches them."""
    rng = random.Random(seed)
    return [" ".join(make_review(rng, i % 2) for _ in range(rng.choice([1, 1, 2, 5]))) for i in range(n)]


# -- runtime choice -----------------------------------------------------------------------------


def test_onnx_runtime_predicts_without_building_the_pytorch_network(export_dir):
    predictor = Predictor(export_dir, HandlerSettings(runtime="onnx", intra_op_threads=2, inter_op_threads=1))
    assert isinstance(predictor.session, OnnxRuntimeSession)
    options = predictor.session.session.get_session_options()
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (2, 1)
    predictor.predict_proba(mixed_texts(8))
    assert predictor._network is None  # built on the first explanation only
    assert predictor.network is predictor.network  # then once


def test_torch_runtime_predicts_with_the_network(export_dir):
    predictor = Predictor(export_dir, HandlerSettings(runtime="torch"))
    assert isinstance(predictor.session, TorchSession) and predictor.session.net is predictor.network


@pytest.mark.parametrize("section", [{"runtime": "tensorrt"}, {"runtime": "ONNX"}, {"runtime": None}])
def test_an_unknown_runtime_is_refused_by_name(section):
    with pytest.raises(ValueError, match=r"handler.runtime must be one of \['onnx', 'torch'\]"):
        HandlerSettings.from_model_yaml({"handler": section})


@pytest.mark.parametrize("section, field", [
    ({"intra_op_threads": 0}, "intra_op_threads"), ({"inter_op_threads": "2"}, "inter_op_threads"),
    ({"sub_batch_tokens": -1}, "sub_batch_tokens"), ({"sub_batch_padding": 1.0}, "sub_batch_padding"),
])
def test_bad_runtime_settings_name_the_field(section, field):
    with pytest.raises(ValueError, match=f"handler.{field}"):
        HandlerSettings.from_model_yaml({"handler": section})


def test_the_shipped_config_names_a_known_runtime():
    from serving.settings import load_model_yaml

    assert HandlerSettings.from_model_yaml(load_model_yaml()).runtime in ("onnx", "torch")


def test_onnx_runtime_without_its_file_says_how_to_make_it(export_dir, tmp_path):
    import shutil

    copy = shutil.copytree(export_dir, tmp_path / "no_onnx")
    (copy / ONNX_FILE).unlink()
    with pytest.raises(ValueError, match="scripts/write_onnx.py"):
        Predictor(copy, HandlerSettings(runtime="onnx", precision="float32"))
    Predictor(copy, HandlerSettings(runtime="torch"))  # PyTorch does not need it


def test_auto_precision_runs_int8_where_the_export_has_it_and_float32_otherwise(export_dir, tmp_path):
    import shutil

    from model.export import ONNX_INT8_FILE

    texts = mixed_texts()
    assert Predictor(export_dir).precision == "int8"  # the default: the export's checked int8 file
    np.testing.assert_array_equal(Predictor(export_dir).predict_proba(texts),
                                  Predictor(export_dir, HandlerSettings(precision="int8")).predict_proba(texts))
    copy = shutil.copytree(export_dir, tmp_path / "no_int8")
    (copy / ONNX_INT8_FILE).unlink()  # as the export writer leaves it when int8 fails its check
    fallback = Predictor(copy)
    assert fallback.precision == "float32"
    np.testing.assert_array_equal(fallback.predict_proba(texts),
                                  Predictor(export_dir, HandlerSettings(precision="float32")).predict_proba(texts))
    assert Predictor(export_dir, HandlerSettings(runtime="torch")).precision == "float32"


def test_precision_int8_with_the_torch_runtime_is_refused():
    with pytest.raises(ValueError, match="precision int8 needs handler.runtime onnx"):
        HandlerSettings(runtime="torch", precision="int8")


# ("auto", "float32"): the int8 file serves, and a broken network.onnx still fails at start.
@pytest.mark.parametrize("precision, broken", [("float32", "float32"), ("int8", "int8"), ("auto", "float32")])
def test_a_corrupt_onnx_file_fails_at_load(export_dir, tmp_path, precision, broken):
    import shutil

    from model.export import ONNX_INT8_FILE

    copy = shutil.copytree(export_dir, tmp_path / "bad_onnx")
    file = copy / (ONNX_FILE if broken == "float32" else ONNX_INT8_FILE)
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])
    with pytest.raises(ValueError, match=f"cannot load ONNX model .*{file.name}"):
        Predictor(copy, HandlerSettings(runtime="onnx", precision=precision))


# -- both runtimes score like the network --------------------------------------------------------
# In float32 (the PyTorch network's precision): the int8 network is checked against it further down.


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_probabilities_equal_the_network_one_review_at_a_time(export_dir, runtime):
    texts = mixed_texts()
    net, encoder, _ = load_export(export_dir)
    with torch.no_grad():
        expected = np.concatenate([class_probabilities(net(*encoder.batch([t]))).numpy() for t in texts])
    got = Predictor(export_dir, HandlerSettings(runtime=runtime, precision="float32")).predict_proba(texts)
    assert got.shape == (len(texts), 2)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_mixed_batch_answers_like_each_review_alone(export_dir, runtime):
    # Small sub-batches, so this batch is certainly cut into several, sorted, and put back in order.
    predictor = Predictor(export_dir, HandlerSettings(runtime=runtime, precision="float32", sub_batch_tokens=200,
                                                      sub_batch_padding=0.1))
    texts = mixed_texts(seed=1)
    lengths = [len(ids) for ids in predictor.encoder.encode_ids(texts)]
    assert len(plan_sub_batches(lengths, 200, 0.1)) > 2
    alone = np.concatenate([predictor.predict_proba([t]) for t in texts])
    np.testing.assert_allclose(predictor.predict_proba(texts), alone, atol=1e-5)


def test_no_texts_no_rows(export_dir):
    assert Predictor(export_dir).predict_proba([]).shape == (0, 2)


# -- the sub-batch rule -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_sub_batches_cover_each_text_once_sorted_and_within_bounds(seed):
    rng = random.Random(seed)
    lengths = [rng.choice([rng.randint(1, 40), rng.randint(1, 400)]) for _ in range(rng.randint(1, 64))]
    max_tokens, max_padding = rng.choice([64, 512, 1024, 4096]), rng.choice([0.0, 0.1, 0.25, 0.5])
    groups = plan_sub_batches(lengths, max_tokens, max_padding)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    flat = [lengths[i] for g in groups for i in g]
    assert flat == sorted(lengths)
    for group in groups:
        cells = len(group) * max(lengths[i] for i in group)
        padding = cells - sum(lengths[i] for i in group)
        assert len(group) == 1 or (cells <= max_tokens and padding <= max_padding * cells)


def test_one_long_review_does_not_pad_the_short_ones():
    lengths = [20] * 15 + [400]
    groups = plan_sub_batches(lengths, max_tokens=1024, max_padding=0.25)
    assert groups == [list(range(15)), [15]]


def test_equal_lengths_are_cut_only_by_the_cell_budget():
    groups = plan_sub_batches([258] * 16, max_tokens=1024, max_padding=0.25)
    assert [len(g) for g in groups] == [3, 3, 3, 3, 3, 1]


# -- answers ------------------------------------------------------------------------------------


def test_two_labels_answer_label_and_score_of_the_second():
    got = answers(np.array([[0.2, 0.8], [0.7, 0.3], [0.5, 0.5]]), ["negative", "positive"], threshold=0.5)
    assert got == [{"label": "positive", "score": pytest.approx(0.8)}, {"label": "negative", "score": pytest.approx(0.3)},
                   {"label": "positive", "score": pytest.approx(0.5)}]
    assert answers(np.array([[0.2, 0.8]]), ["negative", "positive"], threshold=0.9)[0]["label"] == "negative"


def test_more_labels_answer_the_most_probable_with_every_score():
    got = answers(np.array([[0.1, 0.7, 0.2]]), ["a", "b", "c"])
    assert got == [{"label": "b", "score": pytest.approx(0.7), "scores": {"a": pytest.approx(0.1), "b": pytest.approx(0.7),
                                                                          "c": pytest.approx(0.2)}}]
    with pytest.raises(ValueError, match="do not fit"):
        answers(np.array([[0.1, 0.9]]), ["a", "b", "c"])


# -- the ONNX path without torch -----------------------------------------------------------------


@pytest.mark.parametrize("logits", [np.array([-3.0, 0.0, 2.5], np.float32),
                                    np.array([[1.0, -2.0, 0.5], [30.0, 0.0, -30.0]], np.float32)])
def test_numpy_probabilities_equal_the_networks_torch_ones(logits):
    np.testing.assert_allclose(probabilities_from_logits(logits),
                               class_probabilities(torch.from_numpy(logits)).numpy(), atol=1e-7)


def test_onnx_scoring_imports_no_torch(export_dir):
    """A fresh interpreter scores with runtime onnx and never loads torch (the lean serving install has none),
    unless asked to check network.pt at start."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from serving.runtime import Predictor\n"
        "from serving.settings import HandlerSettings\n"
        f"p = Predictor({str(export_dir)!r}, HandlerSettings(runtime='onnx'), check_network=False)\n"
        "print(p.predict_proba(['A fine film.', 'Dull.']).shape)\n"
        "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))[:5]\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(2, 2)"


def test_checking_network_pt_at_start_refuses_a_broken_one(export_dir, tmp_path):
    import shutil

    copy = shutil.copytree(export_dir, tmp_path / "copy")
    (copy / "network.pt").write_bytes(b"not a state dict")
    Predictor(copy, HandlerSettings(runtime="onnx"), check_network=False)  # torch-free start: not read
    with pytest.raises(ValueError, match="cannot load weights"):
        Predictor(copy, HandlerSettings(runtime="onnx"))


def test_precision_int8_runs_network_int8_onnx(export_dir):
    texts = mixed_texts()
    full = Predictor(export_dir, HandlerSettings(precision="float32")).predict_proba(texts)
    quantized = Predictor(export_dir, HandlerSettings(precision="int8")).predict_proba(texts)
    assert not np.array_equal(full, quantized)  # the other file runs
    np.testing.assert_allclose(quantized, full, atol=0.05)


def test_int8_answers_depend_on_the_batch_only_within_its_tolerance(export_dir):
    # The LSTM's inputs are quantized with one scale per pass: batch-mates move an answer slightly
    # (docs/serving.md, "An int8 network"), never beyond INT8_BATCH_TOLERANCE.
    from serving.runtime import INT8_BATCH_TOLERANCE

    predictor = Predictor(export_dir, HandlerSettings(precision="int8", sub_batch_tokens=200, sub_batch_padding=0.1))
    texts = mixed_texts(seed=1)
    alone = np.concatenate([predictor.predict_proba([t]) for t in texts])
    np.testing.assert_allclose(predictor.predict_proba(texts), alone, atol=INT8_BATCH_TOLERANCE)


def test_a_missing_int8_file_is_refused_naming_the_command(export_dir, tmp_path):
    import shutil

    from model.export import ONNX_INT8_FILE

    copy = shutil.copytree(export_dir, tmp_path / "copy")
    (copy / ONNX_INT8_FILE).unlink()
    with pytest.raises(ValueError, match=f"no {ONNX_INT8_FILE} .*scripts/write_onnx.py"):
        Predictor(copy, HandlerSettings(precision="int8"))


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="handler.precision must be one of"):
        HandlerSettings(precision="int4")
