"""params.yaml read as DVC reads it: a key written twice in one mapping is refused, as DVC refuses the file.

PyYAML keeps the last of two equal keys, DVC (ruamel) stops with "YAML file structure is corrupted": a stage that
took the last value would run on a file `dvc repro` will not run. `read` refuses it with one line per key.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from pipeline.common.errors import UserError

MISSING = object()  # the value of a key that is not in the file (`value_at`)


def read(path: Path) -> dict:
    """The file as a dict; UserError (one line each) for a missing or unreadable file, or a key written twice."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        twice = _written_twice(yaml.compose(text, Loader=yaml.SafeLoader))
        tree = None if twice else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as err:
        raise UserError(f"{path}: cannot read ({err.__class__.__name__}: {' '.join(str(err).split())})") from None
    if twice:
        raise UserError("\n".join(f"{path} {key}: written twice (lines {first} and {second}); DVC refuses such a "
                                  "file: keep one" for key, first, second in twice))
    if not isinstance(tree, dict):
        raise UserError(f"{path}: must hold a mapping of sections (data, q1, q2, q3)")
    return tree


def _written_twice(node: yaml.Node | None, prefix: str = "") -> list[tuple[str, int, int]]:
    """(dotted key, first line, second line) of every key written twice in a mapping of the composed YAML `node`."""
    found: list[tuple[str, int, int]] = []
    if isinstance(node, yaml.MappingNode):
        lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = f"{prefix}{key_node.value}"
            line = key_node.start_mark.line + 1
            if key in lines:
                found.append((key, lines[key], line))
            lines.setdefault(key, line)
            found += _written_twice(value_node, f"{key}.")
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found += _written_twice(item, f"{prefix.rstrip('.')}[{index}].")
    return found


def value_at(tree: dict, dotted: str) -> object:
    """tree[a][b] for "a.b"; MISSING where a level is absent or not a mapping."""
    node: object = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node
