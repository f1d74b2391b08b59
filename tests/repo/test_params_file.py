"""params.yaml is kept in the form DVC's own writer gives it, so an applied `dvc exp run -S key=value` changes one line.

`dvc exp run -S` (and `dvc exp apply` of its result) rewrites params.yaml with `dvc.utils.hydra.apply_overrides`
(ruamel round trip, block style). A file in another form (inline lists, wrapped flow maps, double quotes) comes
back reformatted, and the commit of one changed value carries dozens of lines of noise.
"""

import difflib
import shutil
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PARAMS = ROOT / "params.yaml"


def apply_dvc_writer(tmp_path: Path, override: str) -> list[str]:
    """The changed lines (unified diff, without headers) after DVC's writer applies `override` to a copy."""
    from dvc.utils.hydra import apply_overrides

    copy = tmp_path / "params.yaml"
    shutil.copyfile(PARAMS, copy)
    apply_overrides(copy, [override])
    diff = difflib.unified_diff(PARAMS.read_text().splitlines(), copy.read_text().splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def leaves(tree: dict, prefix: str = "") -> dict[str, object]:
    """Every scalar of a nested mapping by its dotted key (list items are left to their list)."""
    flat = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        flat.update(leaves(value, name + ".") if isinstance(value, dict) else {name: value})
    return flat


def changed(value: object) -> str:
    """A different value of the same kind, as a Hydra override right-hand side."""
    if isinstance(value, bool):
        return str(not value).lower()
    if isinstance(value, (int, float)):
        return repr(value * 2 + 1)
    if isinstance(value, list):  # same length: the last item changes
        return "[" + ",".join(map(str, [*value[:-1], value[-1] * 2 + 1])) + "]"
    return f"'{value}x'"  # quoted: a comma would make a Hydra sweep


def test_the_dvc_writer_leaves_params_yaml_as_it_is(tmp_path):
    """Writing a value over itself changes nothing: the file already is in the writer's form."""
    pytest.importorskip("dvc")
    lambda_ = yaml.safe_load(PARAMS.read_text())["q1"]["lambda"]
    assert apply_dvc_writer(tmp_path, f"q1.lambda={lambda_}") == []


VALUES = leaves(yaml.safe_load(PARAMS.read_text()))


@pytest.mark.parametrize("key", sorted(VALUES))
def test_one_changed_value_is_one_changed_line(tmp_path, key):
    """Every parameter, as `dvc exp run -S key=value` writes it: one line out, one line in, comments kept."""
    pytest.importorskip("dvc")
    lines = apply_dvc_writer(tmp_path, f"{key}={changed(VALUES[key])}")
    removed = [line for line in lines if line.startswith("-")]
    assert len(removed) == 1 and len(lines) == 2, (
        f"dvc exp run -S {key}=... rewrites {len(lines)} lines of params.yaml; keep params.yaml in the form DVC "
        "writes (block style, single quotes; write it with dvc.utils.serialize's YAML dumper):\n" + "\n".join(lines))
    comment = removed[0].partition("#")[2]
    assert comment == lines[1].partition("#")[2], f"{key}: the line's comment was not kept:\n" + "\n".join(lines)
