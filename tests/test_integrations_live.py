"""Live tests against the engines themselves: 2 steps of TRL's GRPOTrainer on the CPU with a model exported
by ``reasonlab export hf`` and our reward, and verl's own dataset class and reward manager (in verl's own
environment, ``make verl-env``, since verl pins older transformers/tokenizers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from reasonlab.cli import main
from reasonlab.integrations.common import split_problems
from reasonlab.model import Decoder, ModelConfig, TaskTokenizer, save_model
from reasonlab.tasks import get_task

os.environ["HF_HUB_OFFLINE"] = "1"
ROOT = Path(__file__).resolve().parent.parent
ARITH = get_task("arith")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny random model exported with ``reasonlab export hf``, and the problems of its tokenizer."""
    train, test = split_problems("arith", {"ops": "2-3", "modulus": 7}, 8, 4, 0)
    texts = ["".join(ARITH.render(p, "plain")) for p in train + test]
    tok = TaskTokenizer.build(texts * 2, 400)
    torch.manual_seed(0)
    cfg = ModelConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        num_layers=1,
        num_heads=2,
        num_kv_heads=1,
        intermediate_size=64,
        max_seq_len=512,
    )
    root = tmp_path_factory.mktemp("live")
    save_model(root / "ckpt", Decoder(cfg), tok)
    assert main(["export", "hf", str(root / "ckpt"), str(root / "hf")]) == 0
    return root, tok, train, test


def _wrong(problem, gold: str) -> str:
    return gold.replace(f"<answer> {problem.answer} </answer>", "<answer> 999 </answer>")


@pytest.mark.slow
def test_trl_grpo_generates_with_the_exported_model_unchanged(exported) -> None:
    """TRL's own generation with the export as it is: pad/eos from the tokenizer, rewards from our verifier."""
    trl = pytest.importorskip("trl")
    transformers = pytest.importorskip("transformers")
    from reasonlab.integrations.trl import REWARD_FUNCS, hf_dataset

    root, tok, train, _ = exported
    seen: list[list[str]] = []

    def spy(prompts, completions, **kw):
        seen.append(list(completions))
        return REWARD_FUNCS["format"](prompts=prompts, completions=completions, **kw)

    spy.__name__ = "reasonlab_format"
    args = trl.GRPOConfig(
        output_dir=str(root / "trl-real"),
        max_steps=2,
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=12,
        logging_steps=1,
        report_to="none",
        use_cpu=True,
        bf16=False,
        save_strategy="no",
        beta=0.0,
        seed=0,
    )
    trainer = trl.GRPOTrainer(
        model=transformers.AutoModelForCausalLM.from_pretrained(root / "hf", local_files_only=True),
        reward_funcs=[spy],
        args=args,
        train_dataset=hf_dataset(train),
        processing_class=transformers.AutoTokenizer.from_pretrained(root / "hf", local_files_only=True),
    )
    assert trainer.processing_class.pad_token_id == tok.pad_id
    trainer.train()
    logs = [h for h in trainer.state.log_history if "reward" in h]
    assert len(logs) == 2 and len(seen) == 2 and all(len(batch) == 4 for batch in seen)
    assert all(0 < h["completions/mean_length"] <= 12 for h in logs)
    assert all("<pad>" not in c and "<eos>" not in c for batch in seen for c in batch)


@pytest.mark.slow
@pytest.mark.parametrize("conversational", [False, True])
def test_trl_grpo_two_steps_on_cpu_with_our_reward(exported, conversational: bool) -> None:
    trl = pytest.importorskip("trl")
    transformers = pytest.importorskip("transformers")
    from reasonlab.integrations.trl import hf_dataset, process_reward

    root, tok, train, _ = exported
    by_prompt = {tuple(tok.encode(ARITH.render(p, "plain")[0], add_bos=True)): p for p in train}
    model = transformers.AutoModelForCausalLM.from_pretrained(root / "hf", local_files_only=True)
    ptok = transformers.AutoTokenizer.from_pretrained(root / "hf", local_files_only=True)
    seen_prompts: list[tuple[int, ...]] = []

    def scripted_generate(input_ids, attention_mask=None, **_):
        """Gold completions for even rows, a wrong answer for odd rows (a random model scores only 0)."""
        rows = []
        for i, (ids, mask) in enumerate(zip(input_ids.tolist(), attention_mask.tolist(), strict=True)):
            prompt = tuple(t for t, m in zip(ids, mask, strict=True) if m)
            seen_prompts.append(prompt)
            problem = by_prompt[prompt]  # TRL tokenised the prompt exactly as the native trainer does
            gold = ARITH.render(problem, "plain")[1]
            rows.append([*tok.encode(gold if i % 2 == 0 else _wrong(problem, gold)), tok.eos_id])
        width = max(map(len, rows))
        tail = torch.tensor([r + [tok.pad_id] * (width - len(r)) for r in rows])
        return torch.cat([input_ids, tail], dim=1)

    model.generate = scripted_generate
    args = trl.GRPOConfig(
        output_dir=str(root / f"trl-{conversational}"),
        max_steps=2,
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=256,
        logging_steps=1,
        report_to="none",
        use_cpu=True,
        bf16=False,
        save_strategy="no",
        learning_rate=1e-3,
        beta=0.0,
        seed=0,
    )
    trainer = trl.GRPOTrainer(
        model=model,
        reward_funcs=[process_reward],
        args=args,
        train_dataset=hf_dataset(train, conversational=conversational),
        processing_class=ptok,
    )
    trainer.train()
    logs = [h for h in trainer.state.log_history if "reward" in h]
    assert len(logs) == 2 and len(seen_prompts) == 8
    assert all(p[0] == tok.bos_id for p in seen_prompts)
    for h in logs:  # half the completions are gold: the tags survived TRL's decoding
        assert h["rewards/reasonlab_process/mean"] == pytest.approx(0.5)
        assert h["frac_reward_zero_std"] == 0.0 and h["grad_norm"] > 0
    if conversational:
        return
    # bring the trained model back: TRL's output directory is a model `reasonlab eval` reads
    trainer.save_model(str(root / "trl-out"))
    from reasonlab.config import validate
    from reasonlab.eval.config import EvalConfig
    from reasonlab.eval.protocol import run_eval
    from reasonlab.model import load_model

    _, back_tok = load_model(root / "trl-out")
    assert back_tok.encode("<answer> 3 </answer>") == tok.encode("<answer> 3 </answer>")
    cfg = validate(
        EvalConfig,
        {
            "name": "trl-back",
            "model": str(root / "trl-out"),
            "task": "arith",
            "fixed": {"modulus": 7},
            "buckets": {"knob": "ops", "values": [2]},
            "problems_per_bucket": 2,
            "seeds": 1,
            "decoding": {"max_new_tokens": 8},
            "bootstrap": 100,
            "report": False,
        },
    )
    summary = run_eval(cfg, root / "trl-eval", progress=False)
    assert "1" in summary["overall"]["outcome"]["pass@k"]


def _verl_python() -> Path | None:
    env = os.environ.get("REASONLAB_VERL_PYTHON")
    path = Path(env) if env else ROOT / ".venv-verl" / "bin" / "python"
    return path if path.is_file() else None


@pytest.mark.slow
@pytest.mark.xdist_group("heavy")  # subprocesses on both cores, or timing-sensitive: never side by side
def test_verl_dataset_class_and_reward_manager(exported, tmp_path) -> None:
    python = _verl_python()
    if python is None:
        pytest.skip("verl's environment is missing: `make verl-env` builds .venv-verl (make test does)")
    root, _, train, test = exported
    from reasonlab.integrations.verl import export_verl

    export_verl(train, test, tmp_path / "verl")
    out = tmp_path / "verl_result.json"
    proc = subprocess.run(
        [
            str(python),
            str(ROOT / "tests" / "live" / "verl_check.py"),
            str(tmp_path / "verl"),
            str(root / "hf"),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT / "src")},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["rows_kept"] == len(train)  # no row dropped by verl's chat-template filter
    assert result["prompt_ids_match"]  # <bos> + the prompt, as in native training
    for scheme in ("outcome", "process", "strict"):
        assert result["schemes"][f"gold/{scheme}"]["scores"] == [1.0] * len(train)
        assert result["schemes"][f"gold/{scheme}"]["acc"] == [1.0] * len(train)
        assert result["schemes"][f"corrupt/{scheme}"]["scores"] == [0.0] * len(train)
    assert sys.executable != str(python)
