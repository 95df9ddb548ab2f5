"""Helpers shared by CLI verbs: progress bars and parsing of free-form ``--knob value`` options."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from reasonlab.errors import ReasonlabError

console = Console(stderr=True)


def parse_knobs(args: list[str]) -> dict[str, str]:
    """Turn ``["--ops", "2-10", "--num-mode", "mod"]`` into ``{"ops": "2-10", "num_mode": "mod"}``."""
    knobs: dict[str, str] = {}
    it = iter(args)
    for token in it:
        if not token.startswith("--"):
            raise ReasonlabError(f"unexpected argument {token!r}; task knobs are given as --name value")
        key, eq, value = token[2:].partition("=")
        if not eq:
            value = next(it, None)  # type: ignore[assignment]
            if value is None or value.startswith("--"):
                raise ReasonlabError(f"option --{key} needs a value")
        knobs[key.replace("-", "_")] = value
    return knobs


@contextlib.contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A rich progress bar with rate and ETA; yields ``advance(k)``."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as progress:
        task_id = progress.add_task(description, total=total)
        yield lambda k=1: progress.advance(task_id, k)
