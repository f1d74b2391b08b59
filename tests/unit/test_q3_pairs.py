"""pipeline.q3.compare.pairs: which entries of q3.models answer which question.

Cells are compared only at one recipe (every setting equal but the cell and the per-cell lr, epochs and patience);
a recipe's aspect only within one cell, with everything else equal. Nothing is compared across both.
"""

from __future__ import annotations

import pytest

from pipeline.q3.compare import ASPECTS, pairs
from tests.conftest import PLAIN, Q3_PER_CELL
from tests.conftest import q3_entry as entry


def six() -> dict[str, dict]:
    """The default params.yaml's layout: rnn, lstm, gru augmented, then the three without augmentation."""
    return {**{cell: entry(cell) for cell in Q3_PER_CELL},
            **{f"{cell}_noaug": entry(cell, PLAIN) for cell in Q3_PER_CELL}}


def test_six_default_entries_give_cells_within_each_recipe_and_augmentation_within_each_cell():
    assert pairs(six()) == [
        ("cell", "", "rnn", "lstm"), ("cell", "", "rnn", "gru"), ("recipe", "augmentation", "rnn", "rnn_noaug"),
        ("cell", "", "lstm", "gru"), ("recipe", "augmentation", "lstm", "lstm_noaug"),
        ("recipe", "augmentation", "gru", "gru_noaug"),
        ("cell", "", "rnn_noaug", "lstm_noaug"), ("cell", "", "rnn_noaug", "gru_noaug"),
        ("cell", "", "lstm_noaug", "gru_noaug"),
    ]


def test_no_pair_differs_in_both_cell_and_augmentation():
    found = pairs(six())
    compared = {frozenset((a, b)) for _, _, a, b in found}
    for a, b in (("rnn", "lstm_noaug"), ("rnn", "gru_noaug"), ("lstm", "rnn_noaug"), ("gru", "lstm_noaug")):
        assert frozenset((a, b)) not in compared
    for question, _, a, b in found:
        models = six()
        same_cell = models[a]["cell"] == models[b]["cell"]
        same_augmentation = all(models[a][k] == models[b][k] for k in ASPECTS["augmentation"])
        assert (question == "cell") == (not same_cell) and (question == "cell") <= same_augmentation


def test_names_are_free_the_cell_is_the_entrys_setting():
    models = {"a": entry("gru"), "b": entry("gru", PLAIN), "c": entry("lstm", PLAIN)}
    assert pairs(models) == [("recipe", "augmentation", "a", "b"), ("cell", "", "b", "c")]


def test_a_second_layer_is_an_architecture_pair_of_its_cell_only():
    models = {**six(), "gru2": entry("gru", layers=2)}
    found = pairs(models)
    assert ("recipe", "architecture", "gru", "gru2") in found
    assert [p for p in found if "gru2" in p] == [("recipe", "architecture", "gru", "gru2")]  # not vs rnn, gru_noaug
    assert pairs({"gru2": entry("gru", layers=2), "gru": entry("gru")}) == [
        ("recipe", "architecture", "gru2", "gru")]  # a before b in params order


@pytest.mark.parametrize(("changes", "aspect"), [
    ({"hidden": 64}, "architecture"), ({"head": "none"}, "architecture"),
    ({"schedule": "constant"}, "optimisation"), ({"clip": 5.0}, "optimisation"),
    ({"recurrent_init": "glorot"}, "initialisation"), ({"recurrent_gain": 0.5}, "initialisation"),
    ({"lr": 0.05}, "learning rate and epochs"), ({"epochs": 60, "patience": 15}, "learning rate and epochs"),
    ({"jitter": 0.1}, "augmentation"),
])
def test_one_differing_aspect_is_a_recipe_pair(changes, aspect):
    assert pairs({"gru": entry("gru"), "other": entry("gru", **changes)}) == [("recipe", aspect, "gru", "other")]


def test_two_differing_aspects_or_a_cell_with_another_recipe_are_not_compared():
    assert pairs({"gru": entry("gru"), "other": entry("gru", PLAIN, hidden=64)}) == []
    assert pairs({"gru": entry("gru"), "lstm": entry("lstm", clip=5.0)}) == []
    assert pairs({"gru": entry("gru"), "lstm": entry("lstm", layers=2)}) == []
    assert pairs({"gru": entry("gru")}) == []
    assert pairs({"gru": entry("gru"), "copy": entry("gru")}) == []  # identical settings: nothing to compare
