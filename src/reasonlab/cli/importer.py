"""``reasonlab import ...``: bring models from other ecosystems into the lab.

``import hf SRC_DIR OUT_DIR`` turns a local Hugging Face Qwen2/Llama directory (an instruct model with its
chat template) into a native model directory that every recipe accepts as ``init_from:`` or ``model:``.
"""

from __future__ import annotations

import click

from reasonlab.cli.common import console


@click.group("import")
def import_group() -> None:
    """Import models from other formats (local directories only; nothing is downloaded)."""


@import_group.command("hf")
@click.argument("src_dir", type=click.Path(file_okay=False))
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--overwrite", is_flag=True, help="Replace an earlier import in OUT_DIR (nothing else is replaced).")
def import_hf_cmd(src_dir: str, out_dir: str, overwrite: bool) -> None:
    """Convert the Hugging Face model directory SRC_DIR (Qwen2ForCausalLM or LlamaForCausalLM, safetensors,
    tokenizer.json) into the native model directory OUT_DIR, keeping its tokenizer and chat template."""
    from reasonlab.model import load_model
    from reasonlab.model.hf_import import import_hf

    path = import_hf(src_dir, out_dir, overwrite=overwrite)
    model, tokenizer = load_model(path)  # what every recipe will do with it: proves the directory loads
    template = "with its chat template (style: model_chat)" if tokenizer.chat_template else "without a chat template"
    console.print(f"imported {model.num_params():,}-parameter model to {path} {template}")


def register(root: click.Group) -> None:
    """Attach this module's commands to the root command group."""
    root.add_command(import_group)
