"""Sampler speed against Hugging Face ``transformers``' ``generate`` on the identical model, in one run.

:func:`bench_sample` times :func:`reasonlab.sampling.generate_ids` and ``transformers``' ``generate`` on
the identical model (ours exported to Hugging Face format and loaded back), batch, prompt length and
number of new tokens.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from typing import Any

import torch

from reasonlab.compute import attention_shape, inference_flops, measure_matmul_peak
from reasonlab.errors import ReasonlabError
from reasonlab.model import Decoder, ModelConfig, TaskTokenizer, load_model
from reasonlab.model.hf import export_hf
from reasonlab.sampling import SamplingParams, generate_ids
from reasonlab.tasks import get_task

__all__ = ["bench_sample", "sample_flops"]


def _bench_tokenizer() -> Any:
    texts = [f"<question>x{i} = {i * 37 % 1000} + {i % 97}. y = x{i} * {i % 13}.</question>" for i in range(400)]
    return TaskTokenizer.build(texts, 600)


def _timed(fn: Any) -> tuple[float, float, int]:
    """(wall seconds, process CPU seconds, tokens generated) of one call of ``fn`` (which returns tokens)."""
    w0, c0 = time.perf_counter(), time.process_time()
    tokens = fn()
    return time.perf_counter() - w0, time.process_time() - c0, tokens


def _hf_copy(model: Any, tokenizer: Any, device: str) -> Any:
    """Our model exported to Hugging Face format and loaded back with transformers (offline)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import transformers  # optional (test extra): only the comparison needs it

    transformers.utils.logging.disable_progress_bar()
    with tempfile.TemporaryDirectory() as tmp:
        export_hf(model, tokenizer, tmp)
        return transformers.AutoModelForCausalLM.from_pretrained(tmp, local_files_only=True).to(device).eval()


def _task_prompts(tokenizer: Any, task: str, knobs: dict[str, str], n: int, seed: int) -> list[list[int]]:
    t = get_task(task)
    problems = t.generate(t.params(**knobs), n, seed)
    return tokenizer.encode_batch([t.render(p, "plain")[0] for p in problems], add_bos=True)


def sample_flops(config: Any, n_params: int, batch: int, prompt_len: int, new_tokens: int) -> float:
    """Forward FLOPs of generating ``new_tokens`` after a ``prompt_len`` prompt for ``batch`` rows.

    ``2 * (N - V*d)`` per token pushed through the layers (prompt and generated tokens), plus the output
    projection ``2 * V * d`` only where a next token is sampled (one per step: ``new_tokens``), plus
    attention ``4 * L * d_attn * context`` per token (:func:`reasonlab.compute.inference_flops`).
    Example: N=1e6, V*d=2e5, batch 1, prompt 3, 2 new tokens, no attention: 2*8e5*5 + 2*2e5*2 = 8.8e6.
    """
    head = config.vocab_size * config.hidden_size
    tokens = batch * (prompt_len + new_tokens)
    mean_context = (prompt_len + new_tokens + 1) / 2
    body = inference_flops(n_params - head, tokens, attn=attention_shape(config), mean_context=mean_context)
    return body + 2.0 * head * batch * new_tokens


def bench_sample(
    preset: str = "small",
    batch: int = 32,
    prompt_len: int = 64,
    new_tokens: int = 128,
    threads: int = 2,
    repeats: int = 3,
    device: str = "cpu",
    top_k: int = 50,
    include_hf: bool = True,
    seed: int = 0,
    group: int = 1,
    checkpoint: str | None = None,
    task: str | None = None,
    knobs: dict[str, str] | None = None,
    temperature: float = 1.0,
) -> dict[str, Any]:
    """Tokens/s of our sampler and of ``transformers.generate`` on the same model, prompts and settings.

    Synthetic workload (default): a randomly initialised ``preset`` model, ``batch`` random prompts of
    ``prompt_len`` tokens, EOS ignored, so both engines produce exactly ``batch * new_tokens`` tokens.
    Task workload (``checkpoint`` and ``task`` given): a trained model on ``batch / group`` rendered
    problems of ``task`` (ragged prompt lengths, left-padded for transformers), EOS honoured, so rows
    finish at different lengths as in RL rollouts and evaluation; tokens/s counts each engine's
    generated tokens up to and including EOS.

    Both sample with ``temperature`` and top-k ``top_k``. ``group > 1`` makes every ``group``
    consecutive rows share one prompt (RL groups, several samples per problem). After one warm-up
    each, the engines are timed alternately ``repeats`` times and the best wall time of each is kept
    (alternating and taking the best keeps the ratio meaningful on a busy shared machine); process
    CPU seconds are reported too. Runs under ``torch.set_num_threads(threads)``.
    """
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    if batch % group:
        raise ReasonlabError(f"--batch {batch} is not a multiple of --group {group}")
    if (checkpoint is None) != (task is None):
        raise ReasonlabError("--checkpoint and --task go together (a trained model on real task prompts)")
    if checkpoint is not None and task is not None:
        model, tokenizer = load_model(checkpoint, device=device)
        distinct = _task_prompts(tokenizer, task, knobs or {}, batch // group, seed)
        workload = {"workload": "task", "checkpoint": str(checkpoint), "task": task, "knobs": knobs or {}}
    else:
        config = ModelConfig.from_preset(preset)
        tokenizer = _bench_tokenizer()
        model = Decoder(config).eval().to(device)
        shape = (batch // group, prompt_len)
        distinct = torch.randint(len(tokenizer.special_ids), tokenizer.vocab_size, shape).tolist()
        workload = {"workload": "synthetic", "preset": preset}
    prompt_lists = [p for p in distinct for _ in range(group)]
    longest = max(len(p) for p in prompt_lists)
    if longest + new_tokens > model.config.max_seq_len:
        raise ReasonlabError(
            f"prompt length {longest} + --new-tokens {new_tokens} exceeds the model's max_seq_len "
            f"{model.config.max_seq_len}"
        )
    synthetic = task is None
    seeds = list(range(batch))
    params = SamplingParams(max_new_tokens=new_tokens, temperature=temperature, top_k=top_k, ignore_eos=synthetic)

    def ours() -> int:
        gens = generate_ids(model, tokenizer, prompt_lists, params, seeds, batch_size=batch)
        return sum(len(g.token_ids) for g in gens)

    engines: dict[str, Any] = {"ours": ours}
    result: dict[str, Any] = {
        "bench": "sample",
        **workload,
        "params": model.num_params(),
        "batch": batch,
        "group": group,
        "mean_prompt_len": round(sum(map(len, prompt_lists)) / batch, 1),
        "max_new_tokens": new_tokens,
        "temperature": temperature,
        "top_k": top_k,
        "threads": threads,
        "device": device,
        "repeats": repeats,
    }
    if include_hf:
        import transformers  # optional (test extra): only the comparison needs it

        hf = _hf_copy(model, tokenizer, device)
        ids = torch.full((batch, longest), tokenizer.pad_id, dtype=torch.long)
        mask = torch.zeros((batch, longest), dtype=torch.long)
        for r, p in enumerate(prompt_lists):
            ids[r, longest - len(p) :] = torch.tensor(p)
            mask[r, longest - len(p) :] = 1
        ids, mask = ids.to(device), mask.to(device)
        eos = None if synthetic else tokenizer.eos_id

        def theirs() -> int:
            torch.manual_seed(seed)  # transformers samples from the global generator: same draws every run
            with torch.inference_mode():
                out = hf.generate(
                    input_ids=ids,
                    attention_mask=mask,
                    max_new_tokens=new_tokens,
                    do_sample=True,
                    temperature=temperature,
                    top_k=top_k,
                    top_p=1.0,
                    eos_token_id=eos,
                    pad_token_id=tokenizer.pad_id,
                )
            new = out[:, longest:].tolist()
            if eos is None:
                return sum(len(row) for row in new)
            return sum(row.index(eos) + 1 if eos in row else len(row) for row in new)

        engines["hf"] = theirs
        result.update(
            {"transformers": transformers.__version__, "hf_attn": getattr(hf.config, "_attn_implementation", None)}
        )
    for fn in engines.values():  # warm-up
        fn()
    runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name in engines}
    for _ in range(repeats):
        for name, fn in engines.items():
            runs[name].append(_timed(fn))
    for name, timings in runs.items():
        wall, _, tokens = min(timings)
        result[f"{name}_seconds"] = round(wall, 4)
        result[f"{name}_cpu_seconds"] = round(min(t[1] for t in timings), 4)
        result[f"{name}_tokens"] = tokens
        result[f"{name}_tokens_per_s"] = round(tokens / wall, 1)
    if synthetic and include_hf and result["ours_tokens"] != result["hf_tokens"]:
        raise RuntimeError(f"engines generated {result['ours_tokens']} vs {result['hf_tokens']} tokens")
    if include_hf:
        result["speedup"] = round(result["ours_tokens_per_s"] / result["hf_tokens_per_s"], 2)
    if synthetic and device == "cpu":
        # Model FLOPs of the work (every prompt prefilled, every token generated) against this machine's
        # fp32 matmul peak measured now under the same thread count: how close each engine is to the
        # hardware, and the speedup over transformers that a 100%-MFU engine would reach.
        flops = sample_flops(model.config, model.num_params(), batch, prompt_len, new_tokens)
        peak = measure_matmul_peak(n=1024, min_seconds=0.5, repeats=3)
        result.update({"model_gflop": round(flops / 1e9, 2), "matmul_peak_gflops": round(peak / 1e9, 1)})
        for name in engines:
            result[f"{name}_mfu"] = round(flops / result[f"{name}_seconds"] / peak, 3)
        if include_hf:
            result["speedup_ceiling_at_100pct_mfu"] = round(result["hf_seconds"] / (flops / peak), 2)
    result.update(
        {
            "torch": torch.__version__,
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }
    )
    if device.startswith("cuda"):
        result["gpu"] = torch.cuda.get_device_name()
    return result
