"""``reasonlab bench ...``: speed measurements against Hugging Face ``transformers`` in the same run.

``bench sample`` times :func:`reasonlab.sampling.generate_ids` and ``transformers``' ``generate`` on the
identical model (ours exported to Hugging Face format and loaded back), batch, prompt length and number
of new tokens, and prints one JSON object. Other ``bench`` subcommands register themselves on
:data:`bench_group`.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from typing import Any

import click
import torch

from reasonlab.errors import ReasonlabError


@click.group("bench")
def bench_group() -> None:
    """Measure speed (tokens/s) against Hugging Face transformers on identical configurations."""


def _bench_tokenizer() -> Any:
    from reasonlab.model import TaskTokenizer

    texts = [f"<question>x{i} = {i * 37 % 1000} + {i % 97}. y = x{i} * {i % 13}.</question>" for i in range(400)]
    return TaskTokenizer.build(texts, 600)


def _timed(fn: Any) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of one call."""
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0


def bench_sample(preset: str = "small", batch: int = 32, prompt_len: int = 64, new_tokens: int = 128,
                 threads: int = 2, repeats: int = 3, device: str = "cpu", top_k: int = 50,
                 include_hf: bool = True, seed: int = 0, group: int = 1) -> dict[str, Any]:
    """Tokens/s of our sampler and of ``transformers.generate`` on the same model and shapes.

    Both sample with temperature 1 and top-k ``top_k`` and never stop early (EOS ignored), so both produce
    exactly ``batch * new_tokens`` tokens; the figure is generated tokens per second including prefill.
    After one warm-up each, the two engines are timed alternately ``repeats`` times and the best wall
    time of each is kept (alternating and taking the best is what makes a ratio meaningful on a shared,
    busy machine); process CPU seconds are reported too. Runs with ``torch.set_num_threads(threads)``.
    ``group > 1`` makes every ``group`` consecutive rows share one prompt (different seeds), as in RL
    group sampling and multi-sample evaluation.
    """
    from reasonlab.model import Decoder, ModelConfig
    from reasonlab.model.hf import export_hf
    from reasonlab.sampling import SamplingParams, generate_ids

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    config = ModelConfig.from_preset(preset)
    if prompt_len + new_tokens > config.max_seq_len:
        raise ReasonlabError(
            f"--prompt-len + --new-tokens = {prompt_len + new_tokens} exceeds preset {preset!r} max_seq_len "
            f"{config.max_seq_len}"
        )
    if batch % group:
        raise ReasonlabError(f"--batch {batch} is not a multiple of --group {group}")
    tokenizer = _bench_tokenizer()
    model = Decoder(config).eval().to(device)
    distinct = torch.randint(len(tokenizer.special_ids), tokenizer.vocab_size, (batch // group, prompt_len))
    prompts = distinct.repeat_interleave(group, dim=0)
    prompt_lists = [row.tolist() for row in prompts]
    seeds = list(range(batch))
    params = SamplingParams(max_new_tokens=new_tokens, temperature=1.0, top_k=top_k, ignore_eos=True)
    expected = batch * new_tokens

    def ours() -> None:
        gens = generate_ids(model, tokenizer, prompt_lists, params, seeds, batch_size=batch)
        produced = sum(len(g.token_ids) for g in gens)
        if produced != expected:
            raise RuntimeError(f"sampler produced {produced} tokens, expected {expected}")

    engines: dict[str, Any] = {"ours": ours}
    result: dict[str, Any] = {
        "bench": "sample", "preset": preset, "params": model.num_params(), "batch": batch, "group": group,
        "prompt_len": prompt_len, "new_tokens": new_tokens, "top_k": top_k, "threads": threads, "device": device,
        "repeats": repeats,
    }
    if include_hf:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import transformers

        transformers.utils.logging.disable_progress_bar()
        with tempfile.TemporaryDirectory() as tmp:
            export_hf(model, tokenizer, tmp)
            hf = transformers.AutoModelForCausalLM.from_pretrained(tmp, local_files_only=True).to(device).eval()
        hf.generation_config.eos_token_id = None
        hf.generation_config.pad_token_id = tokenizer.pad_id
        ids = prompts.to(device)
        mask = torch.ones_like(ids)

        def theirs() -> None:
            with torch.inference_mode():
                out = hf.generate(input_ids=ids, attention_mask=mask, max_new_tokens=new_tokens, min_new_tokens=0,
                                  do_sample=True, temperature=1.0, top_k=top_k, top_p=1.0)
            produced = (out.shape[1] - prompt_len) * batch
            if produced != expected:
                raise RuntimeError(f"transformers produced {produced} tokens, expected {expected}")

        engines["hf"] = theirs
        result.update({"transformers": transformers.__version__,
                       "hf_attn": getattr(hf.config, "_attn_implementation", None)})
    for fn in engines.values():  # warm-up
        fn()
    wall: dict[str, list[float]] = {name: [] for name in engines}
    cpu: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(repeats):
        for name, fn in engines.items():
            w, c = _timed(fn)
            wall[name].append(w)
            cpu[name].append(c)
    for name in engines:
        best = min(wall[name])
        result[f"{name}_seconds"] = round(best, 4)
        result[f"{name}_cpu_seconds"] = round(min(cpu[name]), 4)
        result[f"{name}_tokens_per_s"] = round(expected / best, 1)
    if include_hf:
        result["speedup"] = round(result["hf_seconds"] / result["ours_seconds"], 2)
        result["speedup_cpu_time"] = round(result["hf_cpu_seconds"] / result["ours_cpu_seconds"], 2)
    result.update({"torch": torch.__version__, "machine": platform.machine(), "cpus": os.cpu_count(),
                   "load_avg_1m": round(os.getloadavg()[0], 2)})
    if device.startswith("cuda"):
        result["gpu"] = torch.cuda.get_device_name()
    return result


@bench_group.command("sample")
@click.option("--preset", default="small", show_default=True, help="Model size preset (see PRESETS).")
@click.option("--batch", default=32, show_default=True, type=click.IntRange(min=1))
@click.option("--prompt-len", default=64, show_default=True, type=click.IntRange(min=1))
@click.option("--new-tokens", default=128, show_default=True, type=click.IntRange(min=1))
@click.option("--threads", default=2, show_default=True, type=click.IntRange(min=1), help="torch CPU threads.")
@click.option("--repeats", default=3, show_default=True, type=click.IntRange(min=1),
              help="Alternating timed runs per engine (best kept).")
@click.option("--group", default=1, show_default=True, type=click.IntRange(min=1),
              help="Rows per distinct prompt (RL group size / samples per problem).")
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda.")
@click.option("--no-hf", is_flag=True, help="Skip the transformers baseline.")
def sample_cmd(preset: str, batch: int, prompt_len: int, new_tokens: int, threads: int, repeats: int,
               group: int, device: str, no_hf: bool) -> None:
    """Sampler tokens/s vs transformers generate on the identical model, batch and lengths (JSON)."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ReasonlabError("--device cuda: no CUDA device available")
    click.echo(json.dumps(bench_sample(preset, batch, prompt_len, new_tokens, threads, repeats, device,
                                       include_hf=not no_hf, group=group)))


def register(root: click.Group) -> None:
    root.add_command(bench_group)
