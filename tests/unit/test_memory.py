"""pipeline.common.memory: a size that would need more than half the machine's memory, or a batch larger than the
training set, is one line."""

from __future__ import annotations

import pytest

from pipeline.common import memory
from pipeline.common.errors import UserError

GIB = 1024**3


@pytest.fixture
def machine_16_gib(monkeypatch):
    monkeypatch.setattr(memory, "machine_bytes", lambda: 16 * GIB)


def test_the_real_machine_memory_is_read():
    assert memory.machine_bytes() > 100 * 1024**2


@pytest.mark.parametrize("needed", [0, 1e6, 8 * GIB])  # up to half of the 16 GiB
def test_a_size_that_fits_passes(machine_16_gib, needed):
    memory.check_fits("q1.hidden", 64, needed)


@pytest.mark.parametrize(("key", "value", "needed", "line"), [
    ("q1.hidden", 1000000000, 1e15, "params.yaml q1.hidden = 1000000000: the run would need about 909 TiB of "
                                    "memory, more than half of this machine's 16 GiB; lower it"),
    ("q2.sizes.d32_p256", {"dim": 32, "hidden": 10**9}, 8 * GIB + 1,
     "params.yaml q2.sizes.d32_p256 = {'dim': 32, 'hidden': 1000000000}: the run would need about 8 GiB of "
     "memory, more than half of this machine's 16 GiB; lower it"),
    ("q3.models.gru", {"hidden": 10**6, "head": "64"}, 3.5 * 1024**6,
     "params.yaml q3.models.gru = {'hidden': 1000000, 'head': '64'}: the run would need about 3.58e+03 PiB of "
     "memory, more than half of this machine's 16 GiB; lower it"),
])
def test_a_size_that_does_not_fit_is_one_line_naming_key_value_and_size(machine_16_gib, key, value, needed, line):
    with pytest.raises(UserError) as err:
        memory.check_fits(key, value, needed)
    assert str(err.value) == line


@pytest.mark.parametrize("batch", [1, 54])
def test_a_batch_up_to_the_training_set_passes(batch):
    memory.check_batch("q3.batch_size", batch, 54, "windows")


def test_a_batch_larger_than_the_training_set_is_one_line_naming_key_and_set():
    with pytest.raises(UserError) as err:
        memory.check_batch("q3.batch_size", 10000000, 54, "windows")
    assert str(err.value) == ("params.yaml q3.batch_size = 10000000: larger than the training set (54 windows); "
                              "lower it")
