"""Loaders accept the course's layouts and reject bad files with one line naming file, key, problem."""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.common import paths
from pipeline.common.config import load
from pipeline.common.errors import UserError
from pipeline.q1 import preprocess
from pipeline.q1.data import load_patches, normalise, normalised_patches
from pipeline.q2.data import load_trigrams
from pipeline.q3.data import load_activities
from tests.conftest import ROOT, make_data1, make_data2, make_data3, write_h5

LOADERS = {"data1": load_patches, "data2": load_trigrams, "data3": load_activities}
MAKERS = {"data1": make_data1, "data2": make_data2, "data3": make_data3}


def _copy_with(src, dst, **changes):
    import h5py

    with h5py.File(src) as h5:
        datasets = {k: h5[k][()] for k in h5}
    for key, value in changes.items():
        if value is None:
            datasets.pop(key)
        else:
            datasets[key] = value
    return write_h5(dst, **datasets)


def _error(loader, path):
    with pytest.raises(UserError) as err:
        loader(path)
    message = str(err.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("name", ["data1", "data2", "data3"])
def test_missing_file(name, tmp_path):
    message = _error(LOADERS[name], tmp_path / f"{name}.h5")
    assert f"{name}.h5" in message and "not found" in message


@pytest.mark.parametrize("name", ["data1", "data2", "data3"])
def test_not_hdf5_or_truncated(name, tmp_path, request):
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"this is not an HDF5 file")
    assert "not a readable HDF5 file" in _error(LOADERS[name], garbage)
    good = request.getfixturevalue(f"tiny_{name}")
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(good.read_bytes()[:2000])
    assert "truncated.h5" in _error(LOADERS[name], truncated)


@pytest.mark.parametrize(
    ("name", "key"), [("data1", "data"), ("data2", "trainx"), ("data2", "words"), ("data3", "trY"), ("data3", "tstX")]
)
def test_missing_key(name, key, tmp_path, request):
    path = _copy_with(request.getfixturevalue(f"tiny_{name}"), tmp_path / "bad.h5", **{key: None})
    message = _error(LOADERS[name], path)
    assert "bad.h5" in message and f"'{key}' missing" in message


@pytest.mark.parametrize(
    ("name", "key", "value"),
    [
        ("data1", "data", np.zeros((4, 16, 16))),
        ("data2", "valx", np.ones((10, 4), dtype=int)),
        ("data2", "words", np.array([b"a", b"b"])),
        ("data3", "trX", np.zeros((60, 12))),
        ("data3", "tstY", np.eye(5)[np.zeros(12, dtype=int)]),
    ],
)
def test_wrong_shape(name, key, value, tmp_path, request):
    path = _copy_with(request.getfixturevalue(f"tiny_{name}"), tmp_path / "bad.h5", **{key: value})
    message = _error(LOADERS[name], path)
    assert f"'{key}'" in message and "shape" in message


@pytest.mark.parametrize(("name", "key"), [("data1", "data"), ("data3", "trX"), ("data3", "tstX")])
def test_nan_or_inf(name, key, tmp_path, request):
    src = request.getfixturevalue(f"tiny_{name}")
    import h5py

    with h5py.File(src) as h5:
        value = h5[key][()]
    value.reshape(-1)[3] = np.nan
    value.reshape(-1)[5] = np.inf
    message = _error(LOADERS[name], _copy_with(src, tmp_path / "bad.h5", **{key: value}))
    assert f"'{key}'" in message and "2 NaN or inf" in message


@pytest.mark.parametrize("bad_index", [0, 251])
def test_word_index_out_of_range(bad_index, tiny_data2, tmp_path):
    testd = np.full(60, 5)
    testd[7] = bad_index
    message = _error(load_trigrams, _copy_with(tiny_data2, tmp_path / "bad.h5", testd=testd))
    assert "'testd'" in message and "1..250" in message


@pytest.mark.parametrize(
    ("name", "key", "value"),
    [
        ("data1", "data", np.array([b"x"] * 10)),
        ("data1", "data", np.ones((4, 3, 16, 16), dtype=complex)),
        ("data2", "trainx", np.array([[b"a", b"b", b"c"]] * 400)),
        ("data3", "trY", np.array([b"walking"] * 60)),
    ],
)
def test_wrong_dtype(name, key, value, tmp_path, request):
    path = _copy_with(request.getfixturevalue(f"tiny_{name}"), tmp_path / "bad.h5", **{key: value})
    message = _error(LOADERS[name], path)
    assert f"'{key}'" in message and "dtype" in message


@pytest.mark.parametrize(("name", "key", "bad"), [("data2", "traind", np.nan), ("data3", "tstY", np.nan),
                                                  ("data2", "valx", np.inf)])
def test_nan_in_indices_or_labels(name, key, bad, tmp_path, request):
    src = request.getfixturevalue(f"tiny_{name}")
    import h5py

    with h5py.File(src) as h5:
        value = h5[key][()].astype(float)
    value.reshape(-1)[0] = bad
    message = _error(LOADERS[name], _copy_with(src, tmp_path / "bad.h5", **{key: value}))
    assert f"'{key}'" in message and "1 NaN or inf" in message


def test_non_integer_word_index_and_non_utf8_words(tiny_data2, tmp_path):
    testd = np.full(60, 5.0)
    testd[2] = 3.5
    assert "non-integer" in _error(load_trigrams, _copy_with(tiny_data2, tmp_path / "a.h5", testd=testd))
    words = np.array([f"w{i}".encode() for i in range(250)])
    words[7] = b"\xff\xfe"
    assert "'words' is not UTF-8" in _error(load_trigrams, _copy_with(tiny_data2, tmp_path / "b.h5", words=words))


def test_non_square_patches(tmp_path):
    message = _error(load_patches, write_h5(tmp_path / "bad.h5", data=np.zeros((4, 3, 8, 32))))
    assert "'data'" in message and "square" in message


@pytest.mark.parametrize(("row", "value"), [((0, 3), 1), ((0, 0), 0), ((0, 0), 2), ((5, 1), 0.5), ((5, 1), -1)])
def test_labels_not_one_hot(row, value, tiny_data3, tmp_path):
    labels = np.eye(6)[np.repeat(np.arange(6), 10)]
    labels[row] = value
    message = _error(load_activities, _copy_with(tiny_data3, tmp_path / "bad.h5", trY=labels))
    assert "'trY'" in message and "not one-hot" in message


@pytest.mark.parametrize("bad", [7, 0, -1, 2.5])
def test_integer_labels_out_of_range(bad, tiny_data3, tmp_path):
    labels = np.repeat(np.arange(1, 7), 2).astype(type(bad))
    labels[0] = bad
    message = _error(load_activities, _copy_with(tiny_data3, tmp_path / "bad.h5", tstY=labels))
    assert "'tstY'" in message and "outside 1..6" in message


def test_course_variants_are_accepted(tiny_data1, tiny_data2, tiny_data3, tmp_path):
    rgb = load_patches(tiny_data1)
    as_uint8 = (rgb * 255).round().astype(np.uint8)
    channels_last = np.moveaxis(as_uint8, 1, 3)
    np.testing.assert_array_equal(load_patches(write_h5(tmp_path / "u8.h5", data=channels_last)), as_uint8)

    base = load_trigrams(tiny_data2)
    str_words = np.array([w for w in base.words], dtype=object)
    import h5py

    path = _copy_with(tiny_data2, tmp_path / "d2.h5", words=None, trainx=(base.train_x + 1).T.astype(float))
    with h5py.File(path, "a") as h5:
        h5.create_dataset("words", data=str_words, dtype=h5py.string_dtype())
    variant = load_trigrams(path)
    np.testing.assert_array_equal(variant.train_x, base.train_x)
    assert variant.words == base.words and base.train_x.min() >= 0 and base.train_x.max() <= 249

    acts = load_activities(tiny_data3)
    integer_labels = _copy_with(tiny_data3, tmp_path / "d3.h5", trY=acts.train_y + 1, tstY=acts.test_y + 1)
    np.testing.assert_array_equal(load_activities(integer_labels).train_y, acts.train_y)
    assert list(acts.train_y[:10]) == [0] * 10


def test_bundled_files_load_with_expected_shapes():
    assert load_patches(ROOT / "data/raw/data1.h5").shape == (10240, 3, 16, 16)
    tri = load_trigrams(ROOT / "data/raw/data2.h5")
    assert tri.train_x.shape == (372500, 3) and len(tri.words) == 250
    acts = load_activities(ROOT / "data/raw/data3.h5")
    assert acts.train_x.shape == (3000, 150, 3) and np.bincount(acts.train_y).tolist() == [500] * 6


@pytest.fixture(scope="module")
def good_files(tmp_path_factory):
    """The bytes of each tiny data file (module scope: hypothesis reuses them across examples)."""
    folder = tmp_path_factory.mktemp("good")
    return {name: make(folder / f"{name}.h5").read_bytes() for name, make in MAKERS.items()}


@pytest.mark.parametrize("name", ["data1", "data2", "data3"])
@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_damaged_files_give_one_line_or_load(name, good_files, tmp_path, data):
    """Truncated anywhere, or with bytes overwritten anywhere: the loader loads or raises one UserError line."""
    raw = bytearray(good_files[name])
    raw = raw[: data.draw(st.integers(len(raw) // 2, len(raw)), label="length")]
    for _ in range(data.draw(st.integers(0, 8), label="flips")):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    path = tmp_path / "damaged.h5"
    path.write_bytes(bytes(raw))
    try:
        LOADERS[name](path)
    except UserError as err:
        assert "\n" not in str(err) and "damaged.h5" in str(err)


@settings(max_examples=40, deadline=None)
@given(
    n_constant=st.integers(1, 5),
    levels=st.lists(st.integers(0, 255), min_size=5, max_size=5),
    as_uint8=st.booleans(),
)
def test_constant_patches_normalise_without_nan(n_constant, levels, as_uint8, tmp_path_factory):
    """Patches with zero std (a flat colour) map to the middle of [low, high]; nothing becomes NaN."""
    rgb = np.random.default_rng(n_constant).integers(0, 256, size=(8, 3, 4, 4)).astype(np.uint8)
    rgb[:n_constant] = np.asarray(levels[:n_constant])[:, None, None, None]
    path = write_h5(tmp_path_factory.mktemp("const") / "data1.h5", data=rgb if as_uint8 else rgb / 255.0)
    out = normalise(load_patches(path), 3.0, 0.1, 0.9)
    assert np.isfinite(out).all() and out.min() >= 0.1 - 1e-12 and out.max() <= 0.9 + 1e-12
    np.testing.assert_allclose(out[:n_constant], 0.5)


def test_preprocess_stage_on_constant_patches(project, monkeypatch, capsys):
    """The stage itself, reading params.yaml data.data1: some constant patches -> finite output and its figure;
    every patch constant -> one error line and the earlier outputs unchanged."""
    rgb = np.random.default_rng(0).uniform(0, 1, size=(20, 3, 16, 16))
    rgb[:5] = 0.25
    write_h5(project.root / "some.h5", data=rgb)
    code, err = project.set("data.data1", "some.h5").run(preprocess, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, err
    out = normalised_patches("some.h5", load(preprocess.SCHEMA, preprocess.PARAMS).q1.preprocess)
    assert out.shape == (20, 256) and np.isfinite(out).all()
    np.testing.assert_allclose(out[:5], 0.5)
    summary_path = paths.Q1_PREPROCESS_RESULTS / "summary.json"
    summary = json.loads(summary_path.read_text())
    assert summary["patches"] == 20 and summary["size"] == 16 and 0 <= summary["at_clip_bound"] <= 1
    assert summary["mean"] == pytest.approx(out.mean()) and summary["std"] == pytest.approx(out.std())
    assert preprocess.FIGURE.stat().st_size > 0
    before = {path: path.read_bytes() for path in (summary_path, preprocess.FIGURE)}
    write_h5(project.root / "flat.h5", data=np.full((20, 3, 16, 16), 0.25))
    code, err = project.set("data.data1", "flat.h5").run(preprocess, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and err == ["error: data1: every patch is constant (pixel std is 0), nothing to normalise"]
    assert {path: path.read_bytes() for path in before} == before
    assert project.files(str(paths.Q1_PREPROCESS_RESULTS)) | project.files(str(paths.Q1_PREPROCESS_PLOTS)) == {
        str(summary_path), str(preprocess.FIGURE)}


def test_preprocess_stage_names_a_missing_data_file(project, monkeypatch, capsys):
    code, err = project.set("data.data1", "none.h5").run(preprocess, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and err == ["error: none.h5: file not found"]
