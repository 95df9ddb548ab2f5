"""Live check against verl itself; runs in verl's own environment (``make verl-env``), called by
``tests/test_integrations_live.py::test_verl_live``.

Usage: ``python tests/live/verl_check.py EXPORT_DIR HF_MODEL_DIR OUT_JSON``. It loads the exported parquet
with verl's ``RLHFDataset`` (with ``filter_overlong_prompts``, where rows without a usable chat template
are dropped) and the exported tokenizer, then scores gold and corrupted completions of every row through
verl's ``NaiveRewardManager`` with our ``compute_score`` loaded the way verl loads a custom reward
(``get_custom_reward_fn``), once per reward scheme, and writes what it saw as JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf
from transformers import AutoTokenizer
from verl import DataProto
from verl.trainer.ppo.reward import get_custom_reward_fn
from verl.utils.dataset.rl_dataset import RLHFDataset
from verl.workers.reward_manager.naive import NaiveRewardManager

import reasonlab.integrations.verl as bridge
from reasonlab.integrations import problem_from_json
from reasonlab.tasks import get_task


def main(export_dir: str, model_dir: str, out: str) -> None:
    tok = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    files = [str(Path(export_dir) / "train.parquet")]
    cfg = OmegaConf.create(
        {
            "max_prompt_length": 512,
            "filter_overlong_prompts": True,
            "filter_overlong_prompts_workers": 1,
            "cache_dir": str(Path(out).parent / "verl_cache"),
            "truncation": "error",
            "return_raw_chat": True,
        }
    )
    ds = RLHFDataset(files, tok, cfg)
    rows = [ds[i] for i in range(len(ds))]
    result: dict = {"rows_kept": len(ds), "prompt_ids_match": True, "schemes": {}}
    prompts, responses, gold_texts, bad_texts = [], [], [], []
    for row in rows:
        problem = problem_from_json(row["extra_info"]["problem"])
        task = get_task(problem.task)
        prompt_text, gold = task.render(problem, "plain")
        ids = tok.apply_chat_template(row["raw_prompt"], add_generation_prompt=True, tokenize=True)
        ids = list(ids["input_ids"] if hasattr(ids, "keys") else ids)
        expected = tok(prompt_text)["input_ids"]  # <bos> + prompt (the post-processor)
        result["prompt_ids_match"] &= ids == expected and expected[0] == tok.bos_token_id
        prompts.append(ids)
        gold_texts.append(gold)
        bad_texts.append(gold.replace(f"<answer> {problem.answer} </answer>", "<answer> 999 </answer>"))
    for kind, texts in (("gold", gold_texts), ("corrupt", bad_texts)):
        responses = [tok(t, add_special_tokens=False)["input_ids"] + [tok.eos_token_id] for t in texts]
        P = max(len(p) for p in prompts)
        R = max(len(r) for r in responses)
        prompt_t = torch.full((len(rows), P), tok.pad_token_id)
        resp_t = torch.full((len(rows), R), tok.pad_token_id)
        mask = torch.zeros(len(rows), P + R, dtype=torch.long)
        for i, (p, r) in enumerate(zip(prompts, responses, strict=True)):
            prompt_t[i, P - len(p) :] = torch.tensor(p)  # left-padded prompts, right-padded responses
            resp_t[i, : len(r)] = torch.tensor(r)
            mask[i, P - len(p) : P + len(r)] = 1
        non_tensor = {
            k: np.array([row[k] for row in rows], dtype=object) for k in ("data_source", "reward_model", "extra_info")
        }
        batch = DataProto.from_dict(
            tensors={
                "prompts": prompt_t,
                "responses": resp_t,
                "attention_mask": mask,
                "input_ids": torch.cat([prompt_t, resp_t], 1),
            },
            non_tensors=non_tensor,
        )
        for scheme in ("outcome", "process", "strict"):
            config = OmegaConf.create(
                {
                    "reward": {
                        "custom_reward_function": {
                            "path": bridge.__file__,
                            "name": "compute_score",
                            "reward_kwargs": {"reward": scheme},
                        }
                    }
                }
            )
            manager = NaiveRewardManager(tok, num_examine=0, compute_score=get_custom_reward_fn(config))
            out_d = manager(batch, return_dict=True)
            scores = out_d["reward_tensor"].sum(-1).tolist()
            result["schemes"][f"{kind}/{scheme}"] = {
                "scores": scores,
                "acc": [float(a) for a in out_d["reward_extra_info"]["acc"]],
            }
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:4])
