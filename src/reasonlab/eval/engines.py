"""Generation engines for evaluation: the native KV-cache sampler, or ``transformers``' ``generate`` on the
same model exported to Hugging Face format.

Both take the same token ids (``<bos>`` + prompt, encoded by the native tokenizer) and return
:class:`reasonlab.sampling.Generation` objects decoded by the same tokenizer, so the only thing that
differs between them is the generation framework: the framework effect of "A Sober Look at Progress in
LM Reasoning" in miniature. The native sampler seeds every row by itself; ``generate`` draws from
torch's global generator, so its samples are reproducible for a given batching (each batch is seeded
from its rows' seeds) but are not the same draws as the native sampler's.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import torch

from reasonlab.model.hf import export_hf
from reasonlab.sampling import FinishReason, Generation, SamplingParams, generate_ids
from reasonlab.seeds import stable_seed

__all__ = ["ENGINES", "GenerateFn", "native_engine", "transformers_engine"]

#: ``fn(prompt_ids, params, seeds, batch_size) -> generations`` in input order.
GenerateFn = Callable[[Sequence[Sequence[int]], SamplingParams, Sequence[int], int], list[Generation]]
ENGINES = ("native", "transformers")


def native_engine(model: Any, tokenizer: Any, amp: torch.dtype | None = None) -> GenerateFn:
    """The native sampler (:func:`reasonlab.sampling.generate_ids`), under autocast ``amp`` when given."""

    def run(prompt_ids: Sequence[Sequence[int]], params: SamplingParams, seeds: Sequence[int], batch_size: int) -> list:
        return generate_ids(model, tokenizer, prompt_ids, params, seeds, batch_size=batch_size, amp=amp)

    return run


def transformers_engine(model: Any, tokenizer: Any) -> GenerateFn:
    """``transformers.AutoModelForCausalLM.generate`` on ``model`` exported to a temporary HF directory."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import transformers  # optional (test extra): only the framework comparison needs it

    device = next(model.parameters()).device
    with tempfile.TemporaryDirectory() as tmp:
        export_hf(model, tokenizer, tmp, overwrite=True)
        hf = transformers.AutoModelForCausalLM.from_pretrained(tmp, local_files_only=True).to(device).eval()
    control = {tokenizer.bos_id, tokenizer.eos_id, tokenizer.pad_id}

    def run(prompt_ids: Sequence[Sequence[int]], params: SamplingParams, seeds: Sequence[int], batch_size: int) -> list:
        out: list[Generation] = []
        for start in range(0, len(prompt_ids), batch_size):
            rows = [list(p) for p in prompt_ids[start : start + batch_size]]
            longest = max(len(r) for r in rows)
            ids = torch.full((len(rows), longest), tokenizer.pad_id, dtype=torch.long)
            mask = torch.zeros((len(rows), longest), dtype=torch.long)
            for r, p in enumerate(rows):  # left padding, as generate expects
                ids[r, longest - len(p) :] = torch.tensor(p)
                mask[r, longest - len(p) :] = 1
            torch.manual_seed(stable_seed("hf-generate", *seeds[start : start + batch_size]) % 2**63)
            sample = params.temperature > 0
            with torch.inference_mode():
                gen = hf.generate(
                    input_ids=ids.to(device),
                    attention_mask=mask.to(device),
                    max_new_tokens=params.max_new_tokens,
                    do_sample=sample,
                    temperature=params.temperature if sample else None,
                    top_p=params.top_p if sample else None,
                    top_k=params.top_k if sample else None,
                    eos_token_id=[tokenizer.eos_id, *params.stop_token_ids],
                    pad_token_id=tokenizer.pad_id,
                )
            for r, p in enumerate(rows):
                new = gen[r, longest:].tolist()
                stop = next((i for i, t in enumerate(new) if t in (tokenizer.eos_id, *params.stop_token_ids)), None)
                toks = new if stop is None else new[: stop + 1]
                text = tokenizer.decode([t for t in toks if t not in control])
                ends = [i + len(s) for s in params.stop if (i := text.find(s)) >= 0]
                finish: FinishReason = "stop" if stop is not None or ends else "length"
                out.append(Generation(list(p), toks, text[: min(ends)] if ends else text, finish))
        return out

    return run
