"""``reasonlab export ...``: write reasonlab artefacts in other ecosystems' formats.

``export hf CHECKPOINT OUT_DIR`` turns a native checkpoint into a Hugging Face ``Qwen2ForCausalLM``
directory that ``transformers`` loads offline. Other ``export`` subcommands register themselves on
:data:`export_group`.
"""

from __future__ import annotations

import click

from reasonlab.cli.common import console


@click.group("export")
def export_group() -> None:
    """Export models (and data) to other formats."""


@export_group.command("hf")
@click.argument("checkpoint", type=click.Path(file_okay=False))
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--overwrite", is_flag=True, help="Replace an earlier export in OUT_DIR (nothing else is replaced).")
def export_hf_cmd(checkpoint: str, out_dir: str, overwrite: bool) -> None:
    """Write CHECKPOINT as a Hugging Face Qwen2ForCausalLM directory OUT_DIR (loads with AutoModelForCausalLM
    and AutoTokenizer, offline)."""
    from reasonlab.model import load_model
    from reasonlab.model.hf import export_hf
    from reasonlab.rundir import resolve_model_path

    model, tokenizer = load_model(resolve_model_path(checkpoint))
    path = export_hf(model, tokenizer, out_dir, overwrite=overwrite)
    console.print(f"exported {model.num_params():,}-parameter model to {path} (Qwen2ForCausalLM, safetensors)")


def register(root: click.Group) -> None:
    """Attach this module's commands to the root command group."""
    root.add_command(export_group)
