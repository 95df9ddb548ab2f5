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
COMMAND_MODULES = ["data", "score", "perturb", "eval", "rl", "bench", "train", "export", "demo"]


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
        click.echo(f"error: {exc}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
