"""Loaders accept the course's layouts and reject bad files with one line naming file, key, problem."""

import numpy as np
import pytest

from pipeline.data import load_activities, load_patches, load_trigrams
from pipeline.errors import UserError
from tests.conftest import write_h5

LOADERS = {"data1": load_patches, "data2": load_trigrams, "data3": load_activities}


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


def test_wrong_dtype(tiny_data1, tmp_path):
    words = np.array([b"x"] * 10)
    message = _error(load_patches, write_h5(tmp_path / "bad.h5", data=words))
    assert "'data'" in message and "dtype" in message


def test_labels_not_one_hot_or_out_of_range(tiny_data3, tmp_path):
    two_hot = np.eye(6)[np.repeat(np.arange(6), 10)]
    two_hot[0, 3] = 1
    assert "not one-hot" in _error(load_activities, _copy_with(tiny_data3, tmp_path / "a.h5", trY=two_hot))
    ints = np.repeat(np.arange(1, 7), 2)
    ints[0] = 7
    assert "outside 1..6" in _error(load_activities, _copy_with(tiny_data3, tmp_path / "b.h5", tstY=ints))


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
    assert load_patches("data/raw/data1.h5").shape == (10240, 3, 16, 16)
    tri = load_trigrams("data/raw/data2.h5")
    assert tri.train_x.shape == (372500, 3) and len(tri.words) == 250
    acts = load_activities("data/raw/data3.h5")
    assert acts.train_x.shape == (3000, 150, 3) and np.bincount(acts.train_y).tolist() == [500] * 6
