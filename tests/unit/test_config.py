"""The params.yaml checks of every stage (pipeline.common.config), in-process.

Each case starts from the repository's params.yaml, makes ONE key bad (or the pair of a rule that relates two
keys) and loads the stage's PARAMS: exactly one line must come back, naming the key, its value and the rule.
"""

from __future__ import annotations

import copy
import math
import re

import pytest
import yaml

from pipeline.common.config import Section, load, read_tree
from pipeline.common.errors import UserError
from pipeline.q1 import preprocess, search, sweep, sweep_summary
from pipeline.q1 import train as q1_train
from pipeline.q1.params import PATCH_KEYS
from pipeline.q2 import embeddings, predict, summary
from pipeline.q2 import train as q2_train
from pipeline.q3 import baseline as q3_baseline
from pipeline.q3 import compare
from pipeline.q3 import train as q3_train
from pipeline.report import write
from tests.conftest import ROOT, set_key

PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
STAGES = (preprocess, search, q1_train, sweep, sweep_summary, q2_train, summary, predict, embeddings, q3_train,
          q3_baseline, compare, write)
NAMES = {q2_train: {"name": "d32_p256"}, q3_train: {"model": "gru"}}  # the stage's command-line argument
DELETE = object()  # a change that removes the key
GRU = {**PARAMS["q3"]["models"]["gru"]}
D4_P8 = {"dim": 4, "hidden": 8, "epochs": 3, "lr": 0.5, "weight_decay": 0.0}  # a valid q2.sizes entry

POS_INT, INT0 = "must be a positive integer", "must be an integer >= 0"
NUMBER, POSITIVE, NON_NEG, UNIT = "must be a finite number", "must be > 0", "must be >= 0", "must be in (0, 1)"
MOMENTUM, FACTOR, NAME = "must be in [0, 1)", "must be in (0, 1]", "must use only letters, digits and _"
ANGLE = "must be in [0, 180] (degrees)"

# (stage, {dotted key: bad value, ...}, the key named, the value as shown, the rule stated)
CASES = [
    (preprocess, {"q1.preprocess.clip_std": 0.0}, "q1.preprocess.clip_std", "0.0", POSITIVE),
    (preprocess, {"q1.preprocess.clip_std": math.nan}, "q1.preprocess.clip_std", "nan", NUMBER),
    (preprocess, {"q1.preprocess.low": 0.9, "q1.preprocess.high": 0.1}, "q1.preprocess.low", "0.9",
     "must be < q1.preprocess.high = 0.1"),
    (preprocess, {"q1.preprocess.low": 0.5, "q1.preprocess.high": 0.5}, "q1.preprocess.low", "0.5",
     "must be < q1.preprocess.high = 0.5"),
    (preprocess, {"q1.preprocess.sample_size": 0}, "q1.preprocess.sample_size", "0", POS_INT),
    (preprocess, {"q1.preprocess.sample_size": 10.5}, "q1.preprocess.sample_size", "10.5", POS_INT),
    (preprocess, {"q1.preprocess.seed": -1}, "q1.preprocess.seed", "-1", INT0),
    (preprocess, {"data.data1": ""}, "data.data1", "''", "must be a non-empty text"),
    (q1_train, {"q1.hidden": 0}, "q1.hidden", "0", POS_INT),
    (q1_train, {"q1.hidden": 64.5}, "q1.hidden", "64.5", POS_INT),
    (q1_train, {"q1.hidden": True}, "q1.hidden", "True", POS_INT),
    (q1_train, {"q1.lambda": -0.5}, "q1.lambda", "-0.5", NON_NEG),
    (q1_train, {"q1.beta": -0.5}, "q1.beta", "-0.5", NON_NEG),
    (q1_train, {"q1.beta": "strong"}, "q1.beta", "'strong'", NUMBER),
    (q1_train, {"q1.rho": 0.0}, "q1.rho", "0.0", UNIT),
    (q1_train, {"q1.rho": 1.0}, "q1.rho", "1.0", UNIT),
    (q1_train, {"q1.solver": "adam"}, "q1.solver", "'adam'", "must be one of lbfgs, sgd"),
    (q1_train, {"q1.dtype": "float16"}, "q1.dtype", "'float16'", "must be one of float32, float64"),
    (q1_train, {"q1.seed": -1}, "q1.seed", "-1", INT0),
    (q1_train, {"q1.holdout": 0.0}, "q1.holdout", "0.0", UNIT),
    (q1_train, {"q1.holdout": 1.0}, "q1.holdout", "1.0", UNIT),
    (q1_train, {"q1.lbfgs.iterations": 0}, "q1.lbfgs.iterations", "0", POS_INT),
    (q1_train, {"q1.lbfgs.log_every": 0}, "q1.lbfgs.log_every", "0", POS_INT),
    (q1_train, {"q1.sgd.epochs": 0}, "q1.sgd.epochs", "0", POS_INT),
    (q1_train, {"q1.sgd.batch_size": 0}, "q1.sgd.batch_size", "0", POS_INT),
    (q1_train, {"q1.sgd.lr": 0.0}, "q1.sgd.lr", "0.0", POSITIVE),
    (q1_train, {"q1.sgd.lr": math.inf}, "q1.sgd.lr", "inf", NUMBER),
    (q1_train, {"q1.sgd.momentum": 1.0}, "q1.sgd.momentum", "1.0", MOMENTUM),
    (q1_train, {"q1.sgd.momentum": -0.5}, "q1.sgd.momentum", "-0.5", MOMENTUM),
    (q1_train, {"q1.sgd": 5}, "q1.sgd", "5", "must be a mapping"),
    (q1_train, {"q1.quality.window": 0}, "q1.quality.window", "0", POS_INT),
    (q1_train, {"q1.shown": 0}, "q1.shown", "0", POS_INT),
    (q1_train, {"data.data1": ""}, "data.data1", "''", "must be a non-empty text"),  # the PATCH_KEYS: q1 train,
    (q1_train, {"q1.preprocess.clip_std": 0.0}, "q1.preprocess.clip_std", "0.0", POSITIVE),  # search and sweep
    (search, {"data.data1": None}, "data.data1", "None", "must be a non-empty text"),  # normalise data1 themselves
    (search, {"q1.preprocess.low": 0.9, "q1.preprocess.high": 0.1}, "q1.preprocess.low", "0.9",
     "must be < q1.preprocess.high = 0.1"),
    (sweep, {"q1.preprocess.high": math.inf}, "q1.preprocess.high", "inf", NUMBER),
    (sweep, {"q1.dtype": "float16"}, "q1.dtype", "'float16'", "must be one of float32, float64"),
    (search, {"q1.search.hidden": 0}, "q1.search.hidden", "0", POS_INT),
    (search, {"q1.search.lambda": -0.5}, "q1.search.lambda", "-0.5", NON_NEG),
    (search, {"q1.search.beta": [1.0, -0.5]}, "q1.search.beta[1]", "-0.5", NON_NEG),
    (search, {"q1.search.beta": [1.0, "x"]}, "q1.search.beta[1]", "'x'", NUMBER),
    (search, {"q1.search.beta": [1.0, 1.0]}, "q1.search.beta", "[1.0, 1.0]", "values must be distinct"),
    (search, {"q1.search.beta": []}, "q1.search.beta", "[]", "must be a non-empty list"),
    (search, {"q1.search.beta": 1.0}, "q1.search.beta", "1.0", "must be a non-empty list"),
    (search, {"q1.search.rho": [0.05, 1.5]}, "q1.search.rho[1]", "1.5", UNIT),
    (search, {"q1.search.min_r2": 1.5}, "q1.search.min_r2", "1.5", UNIT),
    (search, {"q1.search.iterations": 0}, "q1.search.iterations", "0", POS_INT),
    (search, {"q1.solver": "adam"}, "q1.solver", "'adam'", "must be one of lbfgs, sgd"),
    (search, {"q1.sgd.lr": -0.5}, "q1.sgd.lr", "-0.5", POSITIVE),
    (search, {"q1.sgd.momentum": 1.0}, "q1.sgd.momentum", "1.0", MOMENTUM),
    (search, {"q1.sgd.batch_size": 0}, "q1.sgd.batch_size", "0", POS_INT),
    (search, {"q1.holdout": 1.5}, "q1.holdout", "1.5", UNIT),
    (sweep, {"q1.beta": -0.5}, "q1.beta", "-0.5", NON_NEG),
    (sweep, {"q1.rho": 1.5}, "q1.rho", "1.5", UNIT),
    (sweep, {"q1.solver": "adam"}, "q1.solver", "'adam'", "must be one of lbfgs, sgd"),
    (sweep, {"q1.sgd.lr": 0.0}, "q1.sgd.lr", "0.0", POSITIVE),
    (sweep, {"q1.sgd.momentum": 1.0}, "q1.sgd.momentum", "1.0", MOMENTUM),
    (sweep, {"q1.sgd.epochs": 0}, "q1.sgd.epochs", "0", POS_INT),
    (sweep, {"q1.holdout": 0.0}, "q1.holdout", "0.0", UNIT),
    (sweep_summary, {"q1.sweep.hidden": [10, 0]}, "q1.sweep.hidden[1]", "0", POS_INT),
    (sweep_summary, {"q1.sweep.hidden": [10, 5.5]}, "q1.sweep.hidden[1]", "5.5", POS_INT),
    (sweep_summary, {"q1.sweep.lambda": [0, -0.5]}, "q1.sweep.lambda[1]", "-0.5", NON_NEG),
    (q2_train, {"q2.sizes.d32_p256.dim": 0}, "q2.sizes.d32_p256.dim", "0", POS_INT),
    (q2_train, {"q2.sizes.d32_p256.hidden": -3}, "q2.sizes.d32_p256.hidden", "-3", POS_INT),
    (q2_train, {"q2.sizes.d32_p256.hidden": 64.5}, "q2.sizes.d32_p256.hidden", "64.5", POS_INT),
    (q2_train, {"q2.sizes.d32_p256.epochs": 0}, "q2.sizes.d32_p256.epochs", "0", POS_INT),
    (q2_train, {"q2.batch_size": 0}, "q2.batch_size", "0", POS_INT),
    (q2_train, {"q2.sizes.d32_p256.lr": 0.0}, "q2.sizes.d32_p256.lr", "0.0", POSITIVE),
    (q2_train, {"q2.sizes.d32_p256.lr": math.nan}, "q2.sizes.d32_p256.lr", "nan", NUMBER),
    (q2_train, {"q2.sizes.d32_p256.lr": "fast"}, "q2.sizes.d32_p256.lr", "'fast'", NUMBER),
    (q2_train, {"q2.sizes.d32_p256.lr": True}, "q2.sizes.d32_p256.lr", "True", NUMBER),
    (q2_train, {"q2.sizes.d32_p256.lr": DELETE}, "q2.sizes.d32_p256.lr", "None", NUMBER),
    (q2_train, {"q2.sizes.d32_p256.weight_decay": -1e-5}, "q2.sizes.d32_p256.weight_decay", "-1e-05", NON_NEG),
    (q2_train, {"q2.sizes.d32_p256.weight_decay": math.inf}, "q2.sizes.d32_p256.weight_decay", "inf", NUMBER),
    (q2_train, {"q2.sizes.d32_p256.weight_decay": DELETE}, "q2.sizes.d32_p256.weight_decay", "None", NUMBER),
    (q2_train, {"q2.momentum": 1.0}, "q2.momentum", "1.0", MOMENTUM),
    (q2_train, {"q2.patience": 0}, "q2.patience", "0", POS_INT),
    (q2_train, {"q2.min_delta": -0.5}, "q2.min_delta", "-0.5", NON_NEG),
    (q2_train, {"q2.init_std": 0.0}, "q2.init_std", "0.0", POSITIVE),
    (q2_train, {"q2.schedule": "linear"}, "q2.schedule", "'linear'", "must be one of constant, step, cosine"),
    (q2_train, {"q2.lr_min": -0.5}, "q2.lr_min", "-0.5", NON_NEG),
    (q2_train, {"q2.schedule": "cosine", "q2.sizes.d32_p256.lr": 0.5, "q2.lr_min": 0.5}, "q2.lr_min", "0.5",
     "must be < q2.sizes.d32_p256.lr = 0.5"),
    (q2_train, {"q2.gamma": 1.5}, "q2.gamma", "1.5", FACTOR),
    (q2_train, {"q2.gamma": 0.0}, "q2.gamma", "0.0", FACTOR),
    (q2_train, {"q2.step_epochs": 0}, "q2.step_epochs", "0", POS_INT),
    (q2_train, {"q2.train_eval_size": 0}, "q2.train_eval_size", "0", POS_INT),
    (q2_train, {"q2.dtype": "float16"}, "q2.dtype", "'float16'", "must be one of float32, float64"),
    (q2_train, {"q2.seeds": [0, -1]}, "q2.seeds[1]", "-1", INT0),
    (q2_train, {"q2.seeds": [0, 1.5]}, "q2.seeds[1]", "1.5", INT0),
    (q2_train, {"q2.seeds": [1, 1]}, "q2.seeds", "[1, 1]", "values must be distinct"),
    (q2_train, {"q2.seeds": []}, "q2.seeds", "[]", "must be a non-empty list"),
    (q2_train, {"q2.seeds": 0}, "q2.seeds", "0", "must be a non-empty list"),
    (summary, {"q2.sizes": {"d4_p8": {**D4_P8, "dim": 0}}}, "q2.sizes.d4_p8.dim", "0", POS_INT),
    (summary, {"q2.sizes": {"d4_p8": {k: v for k, v in D4_P8.items() if k != "hidden"}}}, "q2.sizes.d4_p8.hidden",
     "None", POS_INT),
    (summary, {"q2.sizes": {"d4_p8": {**D4_P8, "hidden": 2.5}}}, "q2.sizes.d4_p8.hidden", "2.5", POS_INT),
    (summary, {"q2.sizes": {"d4_p8": {**D4_P8, "lr": -1}}}, "q2.sizes.d4_p8.lr", "-1", POSITIVE),
    (summary, {"q2.sizes": {"d4/p8": D4_P8}}, "q2.sizes (key)", "'d4/p8'", NAME),
    (summary, {"q2.sizes": {}}, "q2.sizes", "{}", "must be a non-empty mapping"),
    (predict, {"q2.predict.network": "../d4"}, "q2.predict.network", "'../d4'", NAME),
    (predict, {"q2.predict.count": 0}, "q2.predict.count", "0", POS_INT),
    (predict, {"q2.predict.top": 0}, "q2.predict.top", "0", POS_INT),
    (predict, {"q2.predict.seed": -1}, "q2.predict.seed", "-1", INT0),
    (embeddings, {"q2.embeddings.network": "d4 p8"}, "q2.embeddings.network", "'d4 p8'", NAME),
    (embeddings, {"q2.embeddings.words": " "}, "q2.embeddings.words", "' '", "must be a non-empty text"),
    (embeddings, {"q2.embeddings.neighbours": 0}, "q2.embeddings.neighbours", "0", POS_INT),
    (q3_train, {"q3.models.gru.hidden": 0}, "q3.models.gru.hidden", "0", POS_INT),
    (q3_train, {"q3.models.gru.cell": "transformer"}, "q3.models.gru.cell", "'transformer'",
     "must be one of rnn, lstm, gru"),
    (q3_train, {"q3.models.gru.cell": DELETE}, "q3.models.gru.cell", "None", "must be one of rnn, lstm, gru"),
    (q3_train, {"q3.models.gru.layers": 0}, "q3.models.gru.layers", "0", POS_INT),
    (q3_train, {"q3.models.gru.layers": 1.5}, "q3.models.gru.layers", "1.5", POS_INT),
    (q3_train, {"q3.models.gru.head": "64,x"}, "q3.models.gru.head", "'64,x'",
     "must be comma-separated positive integers or none"),
    (q3_train, {"q3.models.gru.head": "0"}, "q3.models.gru.head", "'0'",
     "must be comma-separated positive integers or none"),
    (q3_train, {"q3.models.gru.lr": 0.0}, "q3.models.gru.lr", "0.0", POSITIVE),
    (q3_train, {"q3.models.gru.lr": -math.inf}, "q3.models.gru.lr", "-inf", NUMBER),
    (q3_train, {"q3.models.gru.schedule": "linear"}, "q3.models.gru.schedule", "'linear'",
     "must be one of constant, step, cosine"),
    (q3_train, {"q3.models.gru.lr_min": -0.5}, "q3.models.gru.lr_min", "-0.5", NON_NEG),
    (q3_train, {"q3.models.gru.schedule": "cosine", "q3.models.gru.lr": 0.1, "q3.models.gru.lr_min": 0.5},
     "q3.models.gru.lr_min", "0.5", "must be < q3.models.gru.lr = 0.1"),
    (q3_train, {"q3.models.gru.epochs": 0}, "q3.models.gru.epochs", "0", POS_INT),
    (q3_train, {"q3.models.gru.epochs": 2.5}, "q3.models.gru.epochs", "2.5", POS_INT),
    (q3_train, {"q3.models.gru.patience": 0}, "q3.models.gru.patience", "0", POS_INT),
    (q3_train, {"q3.models.gru.clip": -0.5}, "q3.models.gru.clip", "-0.5", NON_NEG),
    (q3_train, {"q3.models.gru.clip": "off"}, "q3.models.gru.clip", "'off'", NUMBER),
    (q3_train, {"q3.models.gru.recurrent_init": "zeros"}, "q3.models.gru.recurrent_init", "'zeros'",
     "must be one of glorot, orthogonal, identity"),
    (q3_train, {"q3.models.gru.recurrent_gain": 0.0}, "q3.models.gru.recurrent_gain", "0.0", POSITIVE),
    (q3_train, {"q3.momentum": 1.0}, "q3.momentum", "1.0", MOMENTUM),
    (q3_train, {"q3.batch_size": 0}, "q3.batch_size", "0", POS_INT),
    (q3_train, {"q3.val_fraction": 0.0}, "q3.val_fraction", "0.0", UNIT),
    (q3_train, {"q3.val_fraction": 1.0}, "q3.val_fraction", "1.0", UNIT),
    (q3_train, {"q3.standardise": "maybe"}, "q3.standardise", "'maybe'", "must be true or false"),
    (q3_train, {"q3.standardise": 1}, "q3.standardise", "1", "must be true or false"),
    (q3_train, {"q3.train_eval_size": 0}, "q3.train_eval_size", "0", POS_INT),
    (q3_train, {"q3.workers": 0}, "q3.workers", "0", POS_INT),
    (q3_train, {"q3.seeds": []}, "q3.seeds", "[]", "must be a non-empty list"),
    (q3_train, {"q3.seeds": [0, 2, 0]}, "q3.seeds", "[0, 2, 0]", "values must be distinct"),
    (q3_train, {"q3.seeds": [0, -1]}, "q3.seeds[1]", "-1", INT0),
    (q3_train, {"q3.seeds": None}, "q3.seeds", "None", "must be a non-empty list"),
    (q3_train, {"q3.models.gru.rotation": 200}, "q3.models.gru.rotation", "200", ANGLE),
    (q3_train, {"q3.models.gru.rotation": -1}, "q3.models.gru.rotation", "-1", ANGLE),
    (q3_train, {"q3.models.gru.scale": 1.0}, "q3.models.gru.scale", "1.0", MOMENTUM),
    (q3_train, {"q3.models.gru.scale": -0.1}, "q3.models.gru.scale", "-0.1", MOMENTUM),
    (q3_train, {"q3.models.gru.jitter": -1}, "q3.models.gru.jitter", "-1", "must be in [0, 1]"),
    (q3_train, {"q3.models.gru.jitter": "some"}, "q3.models.gru.jitter", "'some'", NUMBER),
    (q3_train, {"q3.models.gru.rotation": DELETE}, "q3.models.gru.rotation", "None", NUMBER),
    (q3_baseline, {"q3.seeds": [3, 3]}, "q3.seeds", "[3, 3]", "values must be distinct"),
    (q3_baseline, {"q3.seeds": [-2]}, "q3.seeds[0]", "-2", INT0),
    (compare, {"q3.models.gru-2": GRU}, "q3.models (key)", "'gru-2'", NAME),
    (compare, {"q3.models.gru2": {**GRU, "layers": 0}}, "q3.models.gru2.layers", "0", POS_INT),
    (compare, {"q3.models.lstm.patience": 0}, "q3.models.lstm.patience", "0", POS_INT),
    (compare, {"q3.models": {}}, "q3.models", "{}", "must be a non-empty mapping"),
    (write, {"data.data3": None}, "data.data3", "None", "must be a non-empty text"),
    (write, {"q1.rho": 1.5}, "q1.rho", "1.5", UNIT),
    (write, {"q1.sweep.lambda": [0, 0]}, "q1.sweep.lambda", "[0, 0]", "values must be distinct"),
    (write, {"q2.predict.top": 0}, "q2.predict.top", "0", POS_INT),
    (write, {"q3.models.rnn.clip": "off"}, "q3.models.rnn.clip", "'off'", NUMBER),
    (write, {"q3": None}, "q3", "None", "must be a mapping"),
]


def changed(**changes) -> dict:
    """A copy of the repository's params.yaml with the dotted keys changed (DELETE removes one)."""
    tree = copy.deepcopy(PARAMS)
    for dotted, value in changes.items():
        if value is DELETE:
            parent, leaf = dotted.rsplit(".", 1)
            node = tree
            for key in parent.split("."):
                node = node[key]
            del node[leaf]
        else:
            set_key(tree, dotted, value)
    return tree


def problems(stage, tree: dict) -> list[str]:
    """The lines of the UserError that loading `stage`'s params from `tree` raises."""
    with pytest.raises(UserError) as err:
        load(stage.SCHEMA, stage.PARAMS, tree=tree, **NAMES.get(stage, {}))
    return str(err.value).splitlines()


def case_id(case) -> str:
    return f"{case[0].__name__.removeprefix('pipeline.')}: {case[2]} = {case[3]}"


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.__name__)
def test_the_repository_params_pass_every_stage(stage):
    p = load(stage.SCHEMA, stage.PARAMS, tree=PARAMS, **NAMES.get(stage, {}))
    assert all(isinstance(getattr(p, key.split(".")[0]), Section) for key in stage.PARAMS)


def test_a_q3_entry_of_any_name_loads_with_its_cell_and_layers():
    tree = changed(**{"q3.models.my_deep_gru": {**GRU, "layers": 2}})
    entry = load(q3_train.SCHEMA, q3_train.PARAMS, tree=tree, model="my_deep_gru").q3.models["my_deep_gru"]
    assert (entry.cell, entry.layers) == ("gru", 2)
    assert entry.as_dict() == {**GRU, "layers": 2}  # every key by its params.yaml name, in the schema's order
    assert list(entry.as_dict()) == ["cell", "layers", "hidden", "head", "lr", "schedule", "lr_min", "epochs",
                                     "patience", "clip", "recurrent_init", "recurrent_gain", "rotation", "scale",
                                     "jitter"]
    models = load(compare.SCHEMA, compare.PARAMS, tree=tree).q3.models
    assert list(models) == [*PARAMS["q3"]["models"], "my_deep_gru"]  # params order, the new entry last


@pytest.mark.parametrize(("stage", "changes", "key", "shown", "rule"), CASES, ids=[case_id(c) for c in CASES])
def test_an_invalid_parameter_is_one_line_naming_key_value_and_rule(stage, changes, key, shown, rule):
    lines = problems(stage, changed(**changes))
    assert len(lines) == 1, lines  # only the bad key: the others pass
    assert lines[0].startswith("params.yaml ") and f"{key} = {shown}" in lines[0] and rule in lines[0], lines[0]


@pytest.mark.parametrize(("stage", "names", "line"), [
    (q2_train, {"name": "d64_p512"}, "params.yaml q2.sizes.d64_p512 = None: missing (add the entry to params.yaml)"),
    (q3_train, {"model": "transformer"}, "params.yaml q3.models.transformer = None: missing (add the entry to "
                                         "params.yaml)"),
    (q3_train, {"model": "gru-2"}, "params.yaml q3.models (key) = 'gru-2': must use only letters, digits and _"),
])
def test_an_entry_missing_for_the_stage_argument_is_one_line(stage, names, line):
    with pytest.raises(UserError) as err:
        load(stage.SCHEMA, stage.PARAMS, tree=PARAMS, **names)
    assert str(err.value).splitlines() == [line]


@pytest.mark.parametrize("name", ["../d4", "d4.p8"])
def test_a_network_name_that_is_no_file_name_is_one_line(name):
    with pytest.raises(UserError) as err:
        load(q2_train.SCHEMA, q2_train.PARAMS, tree=PARAMS, name=name)
    lines = str(err.value).splitlines()
    assert lines == [f"params.yaml q2.sizes (key) = {name!r}: must use only letters, digits and _"]


@pytest.mark.parametrize(("stage", "changes", "line"), [
    (q1_train, {"q1.sgd.lrr": 0.1}, "params.yaml q1.sgd.lrr: unknown key (known: epochs, batch_size, lr, momentum)"),
    (search, {"q1.search.betas": [1.0]}, "params.yaml q1.search.betas: unknown key (known: hidden, lambda, beta, "
                                         "rho, min_r2, iterations, seeds)"),
    (q2_train, {"q2.sizes.d32_p256.dims": 32}, "params.yaml q2.sizes.d32_p256.dims: unknown key (known: dim, "
                                               "hidden, epochs, lr, weight_decay)"),
    (write, {"data.data4": "x.h5"}, "params.yaml data.data4: unknown key (known: data1, data2, data3)"),
])
def test_an_unknown_key_in_a_section_read_whole_is_one_line(stage, changes, line):
    assert problems(stage, changed(**changes)) == [line]


def test_a_key_outside_the_listed_sections_is_not_checked():
    # q1_train lists q1.sgd but not q1.search: a typo there is for the stages that read it to report
    load(q1_train.SCHEMA, q1_train.PARAMS, tree=changed(**{"q1.search.betas": [1.0]}))
    # nor the keys of q1.preprocess outside PATCH_KEYS: only the figure of q1_preprocess reads them
    load(q1_train.SCHEMA, q1_train.PARAMS, tree=changed(**{"q1.preprocess.sample_size": 0}))


@pytest.mark.parametrize("stage", [search, q1_train, sweep], ids=lambda s: s.__name__)
def test_the_q1_training_stages_read_the_keys_their_patches_depend_on_first(stage):
    assert stage.PARAMS[:len(PATCH_KEYS)] == PATCH_KEYS
    assert PATCH_KEYS == ("data.data1", "q1.preprocess.clip_std", "q1.preprocess.low", "q1.preprocess.high",
                          "q1.holdout", "q1.seed", "q1.dtype")


def test_every_bad_key_of_a_stage_is_reported_one_line_each():
    tree = changed(**{"q1.preprocess.clip_std": math.nan, "q1.preprocess.sample_size": 0,
                      "q1.preprocess.seed": -1, "data.data1": ""})
    assert problems(preprocess, tree) == [
        "params.yaml data.data1 = '': must be a non-empty text",
        "params.yaml q1.preprocess.clip_std = nan: must be a finite number",
        "params.yaml q1.preprocess.sample_size = 0: must be a positive integer",
        "params.yaml q1.preprocess.seed = -1: must be an integer >= 0",
    ]


def test_a_relation_is_checked_only_when_its_keys_passed_their_own_rules():
    # lr 0 fails its own rule; "lr_min 0.0 must be < lr 0.0" would only repeat the problem
    assert problems(q2_train, changed(**{"q2.sizes.d32_p256.lr": 0.0, "q2.lr_min": 0.0})) == [
        "params.yaml q2.sizes.d32_p256.lr = 0.0: must be > 0"]
    # the cosine rule does not apply to the other schedules
    load(q2_train.SCHEMA, q2_train.PARAMS, tree=changed(**{"q2.schedule": "step", "q2.lr_min": 5.0}),
         name="d32_p256")


def test_a_stage_reads_only_the_keys_it_listed():
    q1 = load(sweep_summary.SCHEMA, sweep_summary.PARAMS, tree=PARAMS).q1
    assert q1.sweep.hidden == PARAMS["q1"]["sweep"]["hidden"] and q1.sweep.lam == PARAMS["q1"]["sweep"]["lambda"]
    with pytest.raises(AttributeError, match=r"params\.yaml q1\.hidden was not listed in this stage's PARAMS"):
        q1.hidden  # noqa: B018
    q2 = load(q2_train.SCHEMA, q2_train.PARAMS, tree=PARAMS, name="d32_p256").q2
    assert list(q2.sizes) == ["d32_p256"] and q2.sizes["d32_p256"].dim == 32
    with pytest.raises(AttributeError, match=r"q2\.predict was not listed"):
        q2.predict  # noqa: B018


def test_a_key_missing_from_the_schema_is_a_bug_of_the_stage():
    with pytest.raises(KeyError, match="q1.nope: not a key of the params schema"):
        load(q1_train.SCHEMA, ["q1.nope"], tree=PARAMS)


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.__name__)
def test_the_help_lists_every_key_the_stage_reads_with_its_meaning(stage):
    listed = stage.HELP.split("params.yaml keys read (values live only there):\n")[1].splitlines()
    assert [line.split(": ", 1)[0] for line in listed] == list(stage.PARAMS)
    meanings = [line.split(": ", 1)[1] for line in listed]
    assert all(meanings) and not [m for m in meanings if re.match(r"\w+\(", m)], meanings  # not a signature


def test_the_help_explains_keys_sections_and_entries():
    assert q3_train.HELP.startswith(q3_train.__doc__.rstrip())
    assert "q3.models.{model}: one q3_train@<model> per entry" in q3_train.HELP
    assert "q3.momentum: classical momentum alpha" in q3_train.HELP
    assert "q1.lambda: weight decay lambda of q1_train" in q1_train.HELP  # the yaml name, not the field name lam
    assert "q1.sgd: SGD settings" in q1_train.HELP
    assert "q2.sizes.{name}: one q2_train@<name> network per entry" in q2_train.HELP


@pytest.mark.parametrize(("text", "problem"), [
    (None, "cannot read (FileNotFoundError: "),
    ("q2: [unclosed\n  sizes: 1\n", "cannot read (ParserError: "),
    ("q2:\n\tsizes: 1\n", "cannot read (ScannerError: "),
    (b"\xff\xfeq2: 1\n", "cannot read ("),
    ("just a string\n", "must hold a mapping of sections (data, q1, q2, q3)"),
])
def test_a_missing_or_unreadable_params_file_is_one_line(tmp_path, monkeypatch, text, problem):
    monkeypatch.chdir(tmp_path)
    if text is not None:
        path = tmp_path / "params.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(UserError) as err:
        load(q2_train.SCHEMA, q2_train.PARAMS, name="d32_p256")  # reads ./params.yaml
    assert str(err.value).startswith(f"params.yaml: {problem}") and "\n" not in str(err.value), str(err.value)


def test_read_tree_returns_the_file_as_read(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("q2:\n  sizes:\n    a: {dim: 1}\n    b: {dim: 2}\nq3: {models: {gru: {}}}\n")
    tree = read_tree(path)
    assert list(tree["q2"]["sizes"]) == ["a", "b"] and tree["q3"] == {"models": {"gru": {}}}


def test_a_key_written_twice_is_refused_with_both_lines_as_dvc_refuses_the_file(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("q3:\n  models:\n    gru:\n      lr: 0.1\n      epochs: 3\n      lr: 0.5\n  seeds: [0]\n"
                    "q2:\n  seeds: [0]\n  seeds: [1]\n")
    with pytest.raises(UserError) as err:
        read_tree(path)
    assert str(err.value).splitlines() == [
        f"{path} q3.models.gru.lr: written twice (lines 4 and 6); DVC refuses such a file: keep one",
        f"{path} q2.seeds: written twice (lines 9 and 10); DVC refuses such a file: keep one"]


def test_dvc_refuses_a_key_written_twice_too(tmp_path):
    """What the stage refuses is what DVC's own reader refuses (so no stage runs on a file `dvc repro` will not)."""
    from dvc.utils.serialize import YAMLFileCorruptedError, load_yaml

    path = tmp_path / "params.yaml"
    path.write_text("q3:\n  lr: 0.1\n  lr: 0.5\n")
    with pytest.raises(YAMLFileCorruptedError):
        load_yaml(path)
