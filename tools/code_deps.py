"""The code each DVC stage runs: the project files its module imports, transitively, and nothing else.

A stage's command is `python -m <module>`; that module's imports (read from the source with `ast`, wherever they
stand, function bodies included) are followed through the project's own packages (`pipeline`, `models`), and
every file Python would execute for them is a dep: the modules and the `__init__.py` of each package on the way.
dvc.yaml lists them by hand-readable path, so an edit of `models/recurrent.py` makes only the stages that import
it stale. tests/repo/test_code_deps.py fails when dvc.yaml and the imports disagree and prints the fix:

    python -m tools.code_deps            # every stage's code deps, as dvc.yaml should list them
    python -m tools.code_deps --write    # rewrite the code deps in dvc.yaml (the other deps and comments stay)
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pipeline", "models")  # the project's own code; everything else is an installed library
MODULE = re.compile(r"python -m ([\w.]+)")


def module_file(module: str, root: Path = ROOT) -> Path | None:
    """The file Python executes for `module` inside the project (package: its __init__.py), or None."""
    base = root / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported(source: Path, module: str, root: Path = ROOT) -> set[str]:
    """Every module named by an import in `source` (the file of `module`), with its parent packages."""
    package = module if source.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"), filename=str(source))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return {".".join(name.split(".")[:i]) for name in names for i in range(1, len(name.split(".")) + 1)}


def closure(module: str, root: Path = ROOT) -> list[str]:
    """The project files (relative to `root`, sorted) that running `python -m module` executes."""
    seen: set[str] = set()
    todo = [module]
    files: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name.split(".")[0] not in PACKAGES:
            continue
        seen.add(name)
        path = module_file(name, root)
        if path is None:  # a class or function imported by name, or a namespace package (no __init__.py)
            continue
        files.add(path.relative_to(root).as_posix())
        todo.extend(imported(path, name, root))
    return sorted(files)


def is_code(dep: str) -> bool:
    """A dvc.yaml dep that is project code (a file or folder of one of PACKAGES)."""
    return dep.split("/")[0] in PACKAGES


def stages(dvc_yaml: Path = ROOT / "dvc.yaml") -> dict[str, tuple[str, list[str]]]:
    """Each stage of dvc.yaml (a foreach stage once, by its name) -> (its module, its code deps as listed)."""
    found = {}
    for name, stage in yaml.safe_load(dvc_yaml.read_text(encoding="utf-8"))["stages"].items():
        body = stage.get("do", stage)
        found[name] = (MODULE.search(body["cmd"]).group(1), [d for d in body.get("deps", []) if is_code(d)])
    return found


def expected(dvc_yaml: Path = ROOT / "dvc.yaml") -> dict[str, list[str]]:
    """Each stage's code deps as they should be: its module's import closure."""
    return {name: closure(module, dvc_yaml.parent) for name, (module, _) in stages(dvc_yaml).items()}


def rewrite(text: str, deps: dict[str, list[str]]) -> str:
    """dvc.yaml's text with each stage's code deps replaced by `deps[stage]`, where the first of them stood."""
    out: list[str] = []
    stage = None
    in_deps = False
    for line in text.splitlines(keepends=True):
        head = re.match(r"^  ([\w@-]+):\s*(#.*)?$", line)
        if head:
            stage, in_deps = head.group(1), False
        elif re.match(r"^\s+deps:\s*$", line):
            in_deps, written = True, False
        elif in_deps:
            item = re.match(r"^(\s+)- (\S+)\s*$", line)
            if not item:
                in_deps = False
            elif is_code(item.group(2)):
                if not written and stage in deps:
                    out.extend(f"{item.group(1)}- {path}\n" for path in deps[stage])
                    written = True
                continue
        out.append(line)
    return "".join(out)


def main(argv: list[str]) -> int:
    """Print every stage's code deps (or, with --write, put them into dvc.yaml)."""
    deps = expected()
    if "--write" in argv:
        path = ROOT / "dvc.yaml"
        path.write_text(rewrite(path.read_text(encoding="utf-8"), deps), encoding="utf-8")
        print(f"wrote the code deps of {len(deps)} stages into {path.name}")
        return 0
    for name, files in deps.items():
        print(f"{name}:\n" + "".join(f"  - {f}\n" for f in files))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
