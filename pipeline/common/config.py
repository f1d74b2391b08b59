"""params.yaml -> typed, checked objects. Every parameter is declared once, in a section dataclass:

    @declared
    class Sgd(Section):
        lr: float = param(positive, "learning rate")
        momentum: float = param(momentum, "classical momentum alpha")

The declaration holds the rule and the meaning; params.yaml holds the value (there are no defaults in code).
A stage lists the dotted keys it reads (`PARAMS`, the same list as its dvc.yaml `params:`) and calls

    p = load(SCHEMA, PARAMS)          # SCHEMA = {"data": Data, "q1": Q1}: top-level sections
    p.q1.sgd.lr

which checks every listed key before any work and raises one UserError with a line per bad key,
`params.yaml q1.rho = 1.5: must be in (0, 1)`. A key the stage did not list cannot be read from the result
(AttributeError), so a stage cannot depend on a parameter DVC does not know it depends on.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from pipeline.common import inputs, params_file
from pipeline.common.errors import UserError

PARAMS_FILE = Path("params.yaml")
NAME = re.compile(r"[A-Za-z0-9_]+")  # names that become file names (network and model keys)

Rule = Callable[[object], str | None]  # value -> what is wrong with it, or None


# -- rules ----------------------------------------------------------------------------------------------

def _number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def _interval(test: Callable[[float], bool], text: str) -> Rule:
    def rule(value: object) -> str | None:
        if not _number(value):
            return "must be a finite number"
        return None if test(value) else f"must be {text}"

    return rule


finite = _interval(lambda v: True, "a finite number")
positive = _interval(lambda v: v > 0, "> 0")
non_negative = _interval(lambda v: v >= 0, ">= 0")
open_unit = _interval(lambda v: 0 < v < 1, "in (0, 1)")
half_open_unit = _interval(lambda v: 0 <= v < 1, "in [0, 1)")
unit = _interval(lambda v: 0 <= v <= 1, "in [0, 1]")
momentum = half_open_unit
angle = _interval(lambda v: 0 <= v <= 180, "in [0, 180] (degrees)")
acute_angle = _interval(lambda v: 0 <= v <= 90, "in [0, 90] (degrees)")
factor = _interval(lambda v: 0 < v <= 1, "in (0, 1]")


def positive_int(value: object) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
    return None if ok else "must be a positive integer"


def non_negative_int(value: object) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return None if ok else "must be an integer >= 0"


def boolean(value: object) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def text(value: object) -> str | None:
    return None if isinstance(value, str) and value.strip() else "must be a non-empty text"


def name(value: object) -> str | None:
    """A name used in file names: letters, digits and _ only."""
    return None if isinstance(value, str) and NAME.fullmatch(value) else "must use only letters, digits and _"


def one_of(*choices: str) -> Rule:
    def rule(value: object) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}"

    return rule


def grid(item: Rule) -> Rule:
    """A non-empty list of distinct values, each passing `item` (bad items are reported as key[i])."""

    def rule(value: object) -> str | None:
        if not isinstance(value, list) or not value:
            return "must be a non-empty list"
        if len(set(map(repr, value))) < len(value):
            return "values must be distinct"
        return None

    rule.item = item
    return rule


# -- declarations ---------------------------------------------------------------------------------------

def param(rule: Rule, meaning: str, key: str | None = None):
    """A leaf parameter; `key` is its name in params.yaml when that is not a Python name (e.g. "lambda")."""
    return dataclasses.field(metadata={"rule": rule, "help": meaning, "key": key})


def section(cls: type, meaning: str):
    """A nested mapping of params.yaml described by the dataclass `cls`."""
    return dataclasses.field(metadata={"section": cls, "help": meaning, "key": None})


def entries(cls: type, meaning: str, key_rule: Rule = name):
    """A mapping of user-chosen names (each checked by `key_rule`) to sections described by `cls`."""
    return dataclasses.field(metadata={"entries": cls, "key_rule": key_rule, "help": meaning, "key": None})


def declared(cls: type) -> type:
    """Make `cls` (a Section subclass whose fields are `param`, `section` or `entries`) a section dataclass."""
    return dataclasses.dataclass(frozen=True, eq=False, repr=False)(cls)


class Section:
    """Base of every section dataclass: holds only the keys a stage listed (see the module doc)."""

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise AttributeError(f"params.yaml {object.__getattribute__(self, '_key')}.{attr} was not listed in this "
                             "stage's PARAMS (and dvc.yaml params:), so the stage may not read it")

    def as_dict(self) -> dict:
        """The loaded keys and values, by their params.yaml names (nested sections stay Section objects)."""
        return {yaml_key(f): self.__dict__[f.name] for f in dataclasses.fields(self) if f.name in self.__dict__}

    def check(self, key: str) -> list[str]:
        """Rules that relate several keys of the section, e.g. `less(...)`; run by `load` when the section's keys
        passed their own rules, and skipped when the stage did not list a key the rule needs."""
        return []


def less(key: str, low_name: str, low: float, high_name: str, high: float) -> list[str]:
    """The problem line when not low < high, both keys under `key`."""
    if low < high:
        return []
    return [f"params.yaml {key}.{low_name} = {low!r} must be < {key}.{high_name} = {high!r}"]


def yaml_key(field: dataclasses.Field) -> str:
    return field.metadata["key"] or field.name


def _fields(cls: type) -> dict[str, dataclasses.Field]:
    return {yaml_key(f): f for f in dataclasses.fields(cls)}


# -- loading --------------------------------------------------------------------------------------------

def read_tree(path: Path = PARAMS_FILE) -> dict:
    """params.yaml as a dict; a missing or unreadable file, or a key written twice, is one UserError line each."""
    return params_file.read(path)


class _Loader:
    """Checks the listed keys of one params.yaml tree and builds the (partial) section objects."""

    def __init__(self, tree: dict) -> None:
        self.tree = tree
        self.problems: list[str] = []

    def fail(self, key: str, value: object, problem: str) -> None:
        self.problems.append(f"params.yaml {key} = {value!r}: {problem}")

    def leaf(self, key: str, field: dataclasses.Field, value: object) -> object:
        rule = field.metadata["rule"]
        problem = rule(value)
        if problem:
            self.fail(key, value, problem)
        elif hasattr(rule, "item"):
            for i, item in enumerate(value):
                item_problem = rule.item(item)
                if item_problem:
                    self.fail(f"{key}[{i}]", item, item_problem)
        return value

    def whole(self, key: str, cls: type, node: object) -> Section:
        """Every field of the section `cls` at `key` (unknown keys are problems too)."""
        if not isinstance(node, dict):
            self.fail(key, node, "must be a mapping")
            return self.partial(key, cls)
        fields = _fields(cls)
        for unknown in sorted(set(map(str, node)) - set(fields)):
            self.problems.append(f"params.yaml {key}.{unknown}: unknown key (known: {', '.join(fields)})")
        obj = self.partial(key, cls)
        for yaml_name, field in fields.items():
            self.set(obj, field, self.node(f"{key}.{yaml_name}", field, node.get(yaml_name)))
        return obj

    def node(self, key: str, field: dataclasses.Field, value: object) -> object:
        meta = field.metadata
        if "section" in meta:
            return self.whole(key, meta["section"], value)
        if "entries" in meta:
            if not isinstance(value, dict) or not value:
                self.fail(key, value, "must be a non-empty mapping")
                return {}
            return {entry: self.entry(key, field, entry, item) for entry, item in value.items()}
        return self.leaf(key, field, value)

    def entry(self, key: str, field: dataclasses.Field, entry: object, value: object) -> Section:
        problem = field.metadata["key_rule"](str(entry))
        if problem:
            self.fail(f"{key} (key)", str(entry), problem)
        return self.whole(f"{key}.{entry}", field.metadata["entries"], value)

    @staticmethod
    def partial(key: str, cls: type) -> Section:
        obj = object.__new__(cls)
        object.__setattr__(obj, "_key", key)
        return obj

    @staticmethod
    def set(obj: Section, field: dataclasses.Field, value: object) -> None:
        object.__setattr__(obj, field.name, value)

    def select(self, root: Section, parts: list[str], schema: Mapping[str, type]) -> None:
        """Check the key `parts` (a leaf, a section or one entry) and put its value into the tree under `root`."""
        dotted = ".".join(parts)
        top, *rest = parts
        if top not in schema:
            raise KeyError(f"{dotted}: not a key of the params schema")
        if not rest:
            object.__setattr__(root, top, self.whole(top, schema[top], self.tree.get(top)))
            return
        obj, cls, node, key = self.child(root, top, schema[top]), schema[top], self.tree.get(top), top
        while rest:
            part, rest = rest[0], rest[1:]
            node = node.get(part) if isinstance(node, dict) else None
            field = _fields(cls).get(part)
            if field is None:
                raise KeyError(f"{dotted}: not a key of the params schema")
            key = f"{key}.{part}"
            meta = field.metadata
            if rest and "section" in meta:
                obj, cls = self.child(obj, part, meta["section"], field), meta["section"]
            elif rest and "entries" in meta and len(rest) == 1:
                problem = meta["key_rule"](rest[0])
                if problem:
                    self.fail(f"{key} (key)", rest[0], problem)
                    return
                if not isinstance(node, dict) or rest[0] not in node:
                    self.fail(f"{key}.{rest[0]}", None, "missing (add the entry to params.yaml)")
                    return
                entries_ = self.entries_of(obj, field)
                entries_[rest[0]] = self.entry(key, field, rest[0], node[rest[0]])
                return
            elif rest:
                raise KeyError(f"{dotted}: not a key of the params schema")
            else:
                self.set(obj, field, self.node(key, field, node))

    def child(self, parent: Section, attr: str, cls: type, field: dataclasses.Field | None = None) -> Section:
        existing = parent.__dict__.get(field.name if field else attr)
        if existing is None:
            existing = self.partial(f"{parent._key}.{attr}".lstrip("."), cls)
            object.__setattr__(parent, field.name if field else attr, existing)
        return existing

    def entries_of(self, parent: Section, field: dataclasses.Field) -> dict:
        existing = parent.__dict__.get(field.name)
        if existing is None:
            existing = {}
            object.__setattr__(parent, field.name, existing)
        return existing


    def relations(self, obj: Section) -> None:
        """Run `check` of every loaded section under `obj` whose own keys had no problem."""
        for value in list(obj.__dict__.values()):
            for child in value.values() if isinstance(value, dict) else [value]:
                if isinstance(child, Section):
                    self.relations(child)
        key = obj._key
        if key and not any(p.startswith(f"params.yaml {key}.") for p in self.problems):
            try:
                self.problems += obj.check(key)
            except AttributeError:  # a key the rule needs was not listed by the stage
                pass


class Params(Section):
    """The loaded sections: attribute per top-level section (p.data, p.q1, ...)."""


def load(schema: Mapping[str, type], keys: Iterable[str], tree: dict | None = None, **names: str) -> Params:
    """Check the dotted `keys` of params.yaml (formatted with `names`, e.g. "q2.sizes.{name}") and return them.

    `tree`: params.yaml already read with `read_tree` (read here otherwise). Raises UserError with one line per
    bad key; KeyError when a key is not in `schema` (a bug in the stage).
    """
    loader = _Loader(read_tree() if tree is None else tree)
    root = _Loader.partial("", Params)
    for key in keys:
        loader.select(root, [part.format(**names) for part in key.split(".")], schema)
    loader.relations(root)
    if loader.problems:
        raise UserError("\n".join(loader.problems))
    inputs.record_params(PARAMS_FILE, loader.tree,
                         [".".join(part.format(**names) for part in key.split(".")) for key in keys])
    return root


def describe(schema: Mapping[str, type], keys: Sequence[str]) -> str:
    """The params.yaml keys a stage reads and what they mean, one line each (for --help)."""
    lines = []
    for key in keys:
        top, *rest = key.split(".")
        cls, field = schema[top], None
        for part in rest:
            found = _fields(cls).get(part) if cls is not None else None
            if found is None:  # an entry name ({name}) of a mapping
                continue
            field, cls = found, found.metadata.get("section") or found.metadata.get("entries")
        meaning = field.metadata["help"] if field is not None else (schema[top].__doc__ or "").strip()
        lines.append(f"{key}: {meaning}")
    return "\n".join(lines)


def stage_help(doc: str, schema: Mapping[str, type], keys: Sequence[str]) -> str:
    """A stage's --help text: its docstring, then the params.yaml keys it reads (kept as written by click)."""
    return f"{doc.rstrip()}\n\n\b\nparams.yaml keys read (values live only there):\n{describe(schema, keys)}"


@declared
class Data(Section):
    """params.yaml `data`: the three input files (bundled stand-ins or the course's own)."""

    data1: str = param(text, "data1.h5: RGB patches, key 'data' (N, 3, 16, 16)")
    data2: str = param(text, "data2.h5: trigrams trainx/traind, valx/vald, testx/testd and the 250 words")
    data3: str = param(text, "data3.h5: activity windows trX/trY, tstX/tstY")
