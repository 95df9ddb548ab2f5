"""The ``reasonlab`` command. Each verb lives in its own module with a ``register(root)`` function.

Every :class:`ReasonlabError` becomes ``error: <message>`` on stderr and exit status 2, never a
traceback; Ctrl-C exits with 130 and, because all outputs are written atomically, leaves no partial
file behind.
"""

from __future__ import annotations

import importlib
import sys

import click

from reasonlab import __version__
from reasonlab.errors import ReasonlabError

#: Modules under reasonlab.cli that define verbs; each has ``register(root: click.Group)``.
COMMAND_MODULES = ["data", "score", "perturb", "eval", "rl", "bench", "train", "export", "importer", "demo"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reasonlab")
def root() -> None:
    """reasonlab: procedural reasoning tasks, exact verifiers, tiny models, RL and honest evaluation."""


for _name in COMMAND_MODULES:
    importlib.import_module(f"reasonlab.cli.{_name}").register(root)


def main(argv: list[str] | None = None) -> int:
    """Console entry point."""
    try:
        root.main(args=argv, prog_name="reasonlab", standalone_mode=False)
    except ReasonlabError as exc:
        return _error(str(exc))
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        return 130
    except click.UsageError as exc:  # bad options or arguments: one line, like every other bad input
        verb = f"{exc.ctx.command_path}: " if exc.ctx is not None else ""
        return _error(f"{verb}{exc.format_message()} (see --help)")
    except click.ClickException as exc:
        return _error(exc.format_message())
    except OSError as exc:  # a file that cannot be read or written (permissions, a full disk, ...)
        where = f"{exc.filename}: " if exc.filename else ""
        return _error(f"{where}{exc.strerror or type(exc).__name__}")
    return 0


def _error(message: str) -> int:
    """Print ``error: MESSAGE`` as one line on stderr; the exit status of bad input."""
    click.echo("error: " + " ".join(message.split()), err=True)
    return 2


if __name__ == "__main__":
    sys.exit(main())
