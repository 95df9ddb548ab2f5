"""Helpers shared by CLI verbs: progress bars, the ``--set`` option and free-form ``--knob value`` options."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from reasonlab.config import parse_key_values
from reasonlab.errors import ReasonlabError

console = Console(stderr=True)

#: ``--set FIELD=VALUE`` (repeatable): the one override mechanism of every config-driven verb.
set_option = click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Override a config field, e.g. --set optim.max_steps=200 (repeatable; values are YAML).",
)
#: ``--overwrite``: start a run over (deleting only a directory that carries the run marker).
overwrite_option = click.option(
    "--overwrite", is_flag=True, help="Delete an existing run of this name (a reasonlab run directory) first."
)


def parse_knobs(args: list[str]) -> dict[str, str]:
    """Turn ``["--ops", "2-10", "--num-mode=mod"]`` into ``{"ops": "2-10", "num_mode": "mod"}``."""
    items: list[str] = []
    it = iter(args)
    for token in it:
        if not token.startswith("--"):
            raise ReasonlabError(f"unexpected argument {token!r}; task knobs are given as --name value")
        key, eq, value = token[2:].partition("=")
        if not eq:
            nxt = next(it, None)
            if nxt is None or nxt.startswith("--"):
                raise ReasonlabError(f"option --{key} needs a value")
            value = nxt
        items.append(f"{key}={value}")
    return parse_key_values(items, "task knob", example="--name value")


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

        def advance(k: int = 1) -> None:
            progress.advance(task_id, k)

        yield advance
