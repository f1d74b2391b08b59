"""Accept DVC's unpacking of a params dict into list options.

In dvc.yaml, `${q1.sweep}` with q1.sweep = {hidden: [10, 50], lambda: [0, 0.001]} becomes
`--hidden 10 50 --lambda 0 0.001` (DVC's default 'nargs' style: a list cannot be interpolated on its
own, only as part of a dict). Typer/Click list options want the option repeated, so

    expand_nargs(["--hidden", "10", "50", "--lambda", "0", "0.001"], {"--hidden", "--lambda"})
    == ["--hidden", "10", "--hidden", "50", "--lambda", "0", "--lambda", "0.001"]
"""

from __future__ import annotations

from collections.abc import Iterable


def expand_nargs(argv: list[str], list_options: Iterable[str]) -> list[str]:
    """Repeat each option of `list_options` before every value that follows it (up to the next `--...`)."""
    names = set(list_options)
    out: list[str] = []
    current: str | None = None
    for token in argv:
        if token.startswith("--"):
            current = token if token in names else None
            if current is None:
                out.append(token)
        elif current is not None:
            out += [current, token]
        else:
            out.append(token)
    return out
