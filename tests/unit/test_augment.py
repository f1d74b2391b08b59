"""pipeline.q3.augment: random rotation, scaling and jitter of the Q3 training windows."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.q3.augment import Augmenter, rotations

MEAN = np.array([0.5, -9.8, 1.0])  # per-channel statistics of the raw signal, as the Standardiser keeps them
STD = np.array([2.0, 4.0, 0.5])


def windows(n: int = 50, t: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Standardised windows (n, t, 3) in float32 and their labels."""
    rng = np.random.default_rng(seed)
    raw = MEAN + STD * rng.standard_normal((n, t, 3)) + rng.uniform(-3, 3, (n, 1, 3))  # each window its own mean
    return ((raw - MEAN) / STD).astype(np.float32), rng.integers(0, 6, n)


def augmenter(rotation=0.0, scale=0.0, jitter=0.0, seed=1) -> Augmenter:
    return Augmenter(rotation, scale, jitter, MEAN, STD, np.random.default_rng(seed))


def raw(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64) * STD + MEAN


def rotation_angle(r: np.ndarray) -> np.ndarray:
    """The angle of each rotation matrix (..., 3, 3): trace = 1 + 2 cos(angle)."""
    return np.arccos(np.clip((np.trace(r, axis1=-2, axis2=-1) - 1) / 2, -1, 1))


def test_rotations_are_orthogonal_with_determinant_one_and_turn_by_the_angle():
    angles = np.array([0.0, 0.1, -0.5, 1.0, np.pi / 2, 3.0, np.pi])
    r = rotations(angles, np.random.default_rng(0))
    assert r.shape == (7, 3, 3)
    np.testing.assert_allclose(r @ r.transpose(0, 2, 1), np.broadcast_to(np.eye(3), r.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-12)
    np.testing.assert_allclose(rotation_angle(r), np.abs(angles), atol=1e-6)
    np.testing.assert_allclose(r[0], np.eye(3), atol=1e-15)


def test_rotations_turn_vectors_across_the_axis_by_the_angle():
    angles = np.full(200, 0.7)
    r = rotations(angles, np.random.default_rng(3))
    axes = np.stack([np.array([m[2, 1] - m[1, 2], m[0, 2] - m[2, 0], m[1, 0] - m[0, 1]]) for m in r])
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)  # the axis from the antisymmetric part
    np.testing.assert_allclose(np.einsum("nij,nj->ni", r, axes), axes, atol=1e-12)  # the axis stays put
    across = np.cross(axes, np.random.default_rng(4).standard_normal((200, 3)))  # perpendicular to the axis
    turned = np.einsum("nij,nj->ni", r, across)
    cos = np.sum(across * turned, axis=1) / (np.linalg.norm(across, axis=1) * np.linalg.norm(turned, axis=1))
    np.testing.assert_allclose(np.arccos(cos), 0.7, atol=1e-9)
    assert np.abs(axes.mean(axis=0)).max() < 0.2  # axes spread over the sphere, not one fixed direction


def test_rotations_are_deterministic_for_a_seeded_generator():
    angles = np.array([0.2, 1.2])
    first = rotations(angles, np.random.default_rng(5))
    np.testing.assert_array_equal(first, rotations(angles, np.random.default_rng(5)))
    assert not np.allclose(first, rotations(angles, np.random.default_rng(6)))


def test_all_zeros_return_the_batch_unchanged():
    x, y = windows()
    aug = augmenter()
    assert not aug.active
    out = aug((x, y))
    assert out[0] is x and out[1] is y


def test_rotation_keeps_each_vector_norm_and_turns_a_window_as_one_within_the_limit():
    x, y = windows()
    out, labels = augmenter(rotation=30)((x, y))
    assert out.dtype == np.float32 and out.shape == x.shape and labels is y
    before, after = raw(x), raw(out)
    np.testing.assert_allclose(np.linalg.norm(after, axis=2), np.linalg.norm(before, axis=2), rtol=1e-5)
    assert not np.allclose(after, before, atol=1e-3)
    angles = []
    for a, b in zip(before, after, strict=True):  # b = a R^T with one rotation R per window
        r_t, *_ = np.linalg.lstsq(a, b, rcond=None)
        np.testing.assert_allclose(a @ r_t, b, atol=1e-4)
        angles.append(rotation_angle(r_t.T))
    assert max(angles) <= np.deg2rad(30) + 1e-4 and max(angles) > np.deg2rad(10)


def test_scale_keeps_each_window_mean_and_scales_its_deviation_by_one_factor_within_the_limit():
    x, y = windows()
    out, labels = augmenter(scale=0.2)((x, y))
    assert labels is y
    before, after = raw(x), raw(out)
    centre = before.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(after.mean(axis=1, keepdims=True), centre, atol=1e-4)
    factors = (after - centre) / (before - centre)
    np.testing.assert_allclose(factors, factors[:, :1, :1] * np.ones_like(factors), rtol=1e-3, atol=1e-3)
    per_window = factors[:, 0, 0]
    assert per_window.min() >= 0.8 - 1e-3 and per_window.max() <= 1.2 + 1e-3 and per_window.std() > 0.05


def test_jitter_adds_noise_of_the_given_std_only():
    x, y = windows(n=200, t=50)
    out, labels = augmenter(jitter=0.1)((x, y))
    assert labels is y
    noise = out.astype(np.float64) - x
    assert noise.std() == pytest.approx(0.1, rel=0.05)  # 30 000 draws: the estimate is within ~1 %
    assert abs(noise.mean()) < 0.01
    assert abs(np.corrcoef(noise.ravel(), x.ravel())[0, 1]) < 0.05  # independent of the signal


def test_all_three_together_are_deterministic_for_a_seeded_generator():
    x, y = windows()
    first = augmenter(rotation=20, scale=0.1, jitter=0.05, seed=7)((x, y))
    again = augmenter(rotation=20, scale=0.1, jitter=0.05, seed=7)((x, y))
    other = augmenter(rotation=20, scale=0.1, jitter=0.05, seed=8)((x, y))
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.array_equal(first[0], other[0])
    assert first[1] is y and other[1] is y
    np.testing.assert_array_equal(x, windows()[0])  # the batch itself is not changed in place
