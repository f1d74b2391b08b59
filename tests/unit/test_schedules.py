"""Learning-rate schedules against hand-computed values."""

import math

import pytest

from models.schedules import lr_schedule


def test_constant_and_step():
    assert [lr_schedule("constant", 0.1)(t) for t in (1, 7, 50)] == [0.1, 0.1, 0.1]
    step = lr_schedule("step", 0.8, gamma=0.5, step_epochs=2)
    assert [step(t) for t in range(1, 7)] == [0.8, 0.8, 0.4, 0.4, 0.2, 0.2]


def test_cosine_runs_from_lr_to_lr_min_over_the_epochs():
    cos = lr_schedule("cosine", 0.5, epochs=5, lr_min=0.1)
    # (t - 1) / 4 = 0, 1/4, 1/2, 3/4, 1  ->  0.1 + 0.4 (1 + cos(pi u)) / 2
    expected = [0.1 + 0.4 * (1 + math.cos(math.pi * u)) / 2 for u in (0, 0.25, 0.5, 0.75, 1)]
    assert [cos(t) for t in range(1, 6)] == pytest.approx(expected)
    assert cos(1) == pytest.approx(0.5) and cos(3) == pytest.approx(0.3) and cos(5) == pytest.approx(0.1)
    assert cos(9) == pytest.approx(0.1)  # past the end it stays at lr_min
    assert lr_schedule("cosine", 0.5, epochs=1)(1) == 0.5


def test_unknown_schedule():
    with pytest.raises(ValueError, match="unknown schedule"):
        lr_schedule("linear", 0.1)
