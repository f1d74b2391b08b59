"""Q1 (a) preprocessing against hand-computed values."""

import numpy as np
import pytest

from pipeline.common.errors import UserError
from pipeline.q1.data import LUMINOSITY, load_patches, normalise
from tests.conftest import ROOT


def test_luminosity_weights():
    np.testing.assert_array_equal(LUMINOSITY, [0.2126, 0.7152, 0.0722])
    rgb = np.zeros((2, 3, 1, 2))
    rgb[0, :, 0, 0] = [1.0, 0.0, 0.0]  # a pure red pixel beside a black one
    rgb[1, :, 0, 0] = [0.0, 0.0, 1.0]  # a pure blue pixel beside a black one
    out = normalise(rgb, clip_std=100.0, low=0.0, high=1.0)
    # mean removal: red patch -> [+0.1063, -0.1063], blue patch -> [+0.0361, -0.0361]
    centred = np.array([[0.1063, -0.1063], [0.0361, -0.0361]])
    sigma = centred.std()
    np.testing.assert_allclose(out, 0.5 + centred / (2 * 100 * sigma))


def _patches_with_known_sigma():
    """Two 1x4 gray patches (R = G = B) whose mean-removed pixels are [-1, 1, -1, 1] and [-3, 3, 0, 0]."""
    gray = np.array([[4.0, 6.0, 4.0, 6.0], [2.0, 8.0, 5.0, 5.0]])
    rgb = np.repeat(gray[:, None, None, :], 3, axis=1)
    centred = np.array([[-1.0, 1, -1, 1], [-3, 3, 0, 0]])
    return rgb, centred, centred.std()


def test_mean_maps_to_middle_and_k_sigma_to_the_ends_with_clipping():
    rgb, centred, sigma = _patches_with_known_sigma()
    k, low, high = 1.5, 0.1, 0.9
    out = normalise(rgb, clip_std=k, low=low, high=high)
    bound = k * sigma
    expected = low + (np.clip(centred, -bound, bound) + bound) / (2 * bound) * (high - low)
    np.testing.assert_allclose(out, expected)
    # pixels at the patch mean -> (low+high)/2; beyond +-k sigma -> clipped to high / low
    assert out[1, 2] == pytest.approx((low + high) / 2) and out[1, 3] == pytest.approx((low + high) / 2)
    assert 3 > bound and out[1, 1] == pytest.approx(high) and out[1, 0] == pytest.approx(low)
    assert out.min() >= low and out.max() <= high


def test_exactly_plus_minus_k_sigma_map_to_low_and_high():
    rgb, centred, sigma = _patches_with_known_sigma()
    k = 1.0 / sigma  # +-1 lands exactly on +-k sigma
    out = normalise(rgb, clip_std=k, low=0.2, high=0.6)
    assert out[0, 0] == pytest.approx(0.2) and out[0, 1] == pytest.approx(0.6)


def test_constant_patches_map_to_middle_but_all_constant_is_an_error():
    rgb, _, _ = _patches_with_known_sigma()
    rgb = np.concatenate([rgb, np.full((1, 3, 1, 4), 0.7)])
    out = normalise(rgb, 3.0, 0.1, 0.9)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[2], 0.5)
    with pytest.raises(UserError, match="constant"):
        normalise(np.full((3, 3, 2, 2), 0.5), 3.0, 0.1, 0.9)


def test_bundled_data_range():
    out = normalise(load_patches(ROOT / "data/raw/data1.h5"), 3.0, 0.1, 0.9)
    assert out.shape == (10240, 256)
    assert out.min() == pytest.approx(0.1) and out.max() == pytest.approx(0.9)
    assert abs(np.median(out) - 0.5) < 0.05
