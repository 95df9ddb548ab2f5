"""Does SFT memorise where RL generalises? The ``memorisation`` step of a recipe (Xie et al., arXiv 2410.23123;
Logic-RL's "SFT memorises, RL generalises"), measured with LiMem (:mod:`reasonlab.eval.limem`).

Everything starts from one base model (``init_from``):

1. **Data** (``STEP/data/``). A fixed training set of ``n_train`` knights puzzles and a test set of ``n_test``
   (same knobs) from one run of the generator seeded by :func:`reasonlab.seeds.memorisation_data_seed`: its
   prompts are distinct, so the two sets are disjoint by prompt, and a puzzle whose prompt the base's lineage
   trained on is dropped (and counted). Each kind in ``perturbations`` (:mod:`reasonlab.tasks.knights.perturb`)
   gives a perturbed copy of the training set, ids ``<id>:<kind>``; items that cannot be perturbed are dropped
   and counted, as ``reasonlab data perturb`` does.
2. **Two arms per seed** on exactly that training set: ``sft``, mid-training with ``objective: sft`` on
   ``data.problems`` = the training set (its gold chains), and ``rl``, RL with ``task.prompts`` = the training
   set in ``prompt_order: shuffle``. Both train for the same number of passes over the training set, not the
   same number of steps: the claim is about what a model does with the items it was trained on, so each arm
   meets each item equally often. A pass is, for SFT, every packed row once (``rows / (batch_size * grad_accum)``
   steps; every puzzle is in exactly one row), for RL every puzzle once as a prompt of ``group_size`` rollouts
   (``n_train / (batch_size / group_size)`` steps). The arms' steps and FLOPs differ and are recorded.
3. **Checkpoints** at the passes (epochs) listed in ``checkpoints``, the last being the training length. Each
   arm trains in segments that end exactly there (step ``round(epoch * steps_per_epoch)``): SFT under
   ``optim.stop_at`` (its schedule spans the whole run), RL under ``budget.prompts`` (``steps`` stays the whole
   run, so its schedule does too); a segment ends in a checkpoint the next one resumes from. The base model is
   the epoch-0 point of both arms.
4. **Evaluation** of every point (the ``eval`` mapping's seeds, samples and decoding; temperature 0 is greedy)
   on the training set, the test set and each perturbed set with the harness' sampler and verifier
   (:func:`reasonlab.eval.protocol.sample_and_score`; :func:`~reasonlab.eval.protocol.run_eval` would drop the
   training set, which the model trained on). Per point: training and test accuracy, LiMem and CR per kind and
   their means over kinds (:func:`reasonlab.eval.limem.limem_by_kind`).

``STEP/memorisation.json`` holds, per arm and checkpoint, every seed's numbers and their mean +- std over seeds
(std with ddof 1). Sub-runs live in ``STEP/<arm>-s<seed>/`` and resume after a kill: a finished point leaves
``points/epoch-E/point.json``, a finished (arm, seed) ``done.json``, and a training segment resumes from its
own checkpoints.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from pydantic import Field, PrivateAttr, model_validator

from reasonlab.compute import read_compute
from reasonlab.config import StrictModel, deep_merge, validate
from reasonlab.errors import ReasonlabError
from reasonlab.eval.config import EvalConfig
from reasonlab.eval.limem import accuracy, limem_by_kind, limem_table, people_by_id
from reasonlab.eval.protocol import sample_and_score
from reasonlab.io import atomic_write_text, read_json, read_records, write_records
from reasonlab.model import TaskTokenizer, load_model
from reasonlab.model.chat import Prompter
from reasonlab.report.arms_data import mean_std
from reasonlab.rundir import config_differences, lineage_prompt_hashes, resolve_device, resolve_model_path
from reasonlab.seeds import memorisation_data_seed, prompt_hash
from reasonlab.tasks import get_task
from reasonlab.tasks.knights.perturb import PERTURBATIONS, perturb_problems
from reasonlab.tasks.registry import checked_params
from reasonlab.train.midtrain import MidtrainConfig, build_midtrain_corpus, midtrain
from reasonlab.train.rl.config import RLConfig
from reasonlab.train.rl.trainer import train_rl

__all__ = ["ARMS", "MemorisationConfig", "checkpoint_steps", "point_metrics", "run_memorisation", "summarise"]

#: The two arms, in the order they run.
ARMS = ("sft", "rl")
#: Fields of the arms' and the evaluation's mappings that the step sets itself (section -> keys).
_OWNED: dict[str, dict[str, tuple[str, ...]]] = {
    "sft": {
        "": ("name", "out_dir", "init_from", "seed", "objective"),
        "data": ("mixture", "problems", "num_problems", "val_rows", "style"),
        "optim": ("max_steps", "stop_at"),
    },
    "rl": {
        "": ("name", "out_dir", "init_from", "seed", "steps", "budget", "curriculum", "holdout"),
        "task": ("name", "knobs", "prompts", "prompt_order", "style"),
    },
    "eval": {
        "": (
            *("name", "model", "task", "buckets", "fixed", "problems", "problems_per_bucket", "holdout_files"),
            *("prompt_style", "bands", "report", "cluster_by"),
        ),
    },
}


def _refuse_owned(mapping: dict[str, Any], owned: dict[str, tuple[str, ...]], where: str) -> None:
    """A one-line error naming the first field of ``mapping`` that the step sets itself (``owned``)."""
    for section, keys in owned.items():
        sub = mapping.get(section) if section else mapping
        for key in keys:
            if isinstance(sub, dict) and key in sub:
                path = f"{where}.{section}.{key}" if section else f"{where}.{key}"
                raise ValueError(f"{path}: set by the memorisation step (the fixed sets, seeds and checkpoints)")


class MemorisationConfig(StrictModel):
    """SFT and RL arms x seeds on one fixed training set, evaluated at checkpoints (see the module docstring)."""

    init_from: str = Field(description="the base model both arms start from, e.g. @pretrain")
    knobs: dict[str, Any] = Field(default_factory=dict, description="knights knobs of both sets, e.g. {people: 3}")
    style: str = Field("plain", description="prompt style of SFT, RL and evaluation: plain, chat or model_chat")
    n_train: int = Field(200, ge=2, description="puzzles in the fixed training set")
    n_test: int = Field(100, ge=1, description="puzzles in the held-out test set (disjoint by prompt)")
    data_seed: int = Field(0, ge=0, description="seed of the sets and their perturbations (not the training seeds)")
    perturbations: list[str] = Field(
        default_factory=lambda: list(PERTURBATIONS), min_length=1, description="perturbation kinds LiMem is taken on"
    )
    checkpoints: list[float] = Field(
        min_length=1, description="passes over the training set where both arms are evaluated; the last ends training"
    )
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1, description="training seeds of both arms")
    sft: dict[str, Any] = Field(default_factory=dict, description="a mid-training config mapping (optim, runtime...)")
    rl: dict[str, Any] = Field(default_factory=dict, description="an RL config mapping (rollout, algorithm, reward...)")
    eval: dict[str, Any] = Field(
        default_factory=dict, description="an evaluation config mapping for every point (seeds, decoding...)"
    )
    _rl_prompts: int = PrivateAttr(default=1)

    @property
    def rl_prompts_per_step(self) -> int:
        """Prompts an RL step takes: ``rollout.batch_size / rollout.group_size``."""
        return self._rl_prompts

    @model_validator(mode="after")
    def _check(self) -> MemorisationConfig:
        knights = get_task("knights")
        checked_params("knights", self.knobs)
        if self.style not in knights.prompt_styles():
            raise ValueError(f"style {self.style!r}: knights supports {', '.join(knights.prompt_styles())}")
        bad = [k for k in self.perturbations if k not in PERTURBATIONS]
        if bad or len(set(self.perturbations)) != len(self.perturbations):
            raise ValueError(f"perturbations must be distinct kinds of {', '.join(PERTURBATIONS)}")
        if min(self.checkpoints) <= 0 or any(b <= a for a, b in itertools.pairwise(self.checkpoints)):
            raise ValueError(f"checkpoints must be increasing epochs > 0, got {self.checkpoints}")
        if len(set(self.seeds)) != len(self.seeds) or min(self.seeds) < 0:
            raise ValueError("seeds must be distinct integers >= 0")
        for name in ("sft", "rl", "eval"):
            _refuse_owned(getattr(self, name), _OWNED[name], name)
        if (self.rl.get("algorithm") or {}).get("dynamic_sampling"):
            raise ValueError(
                "rl.algorithm.dynamic_sampling: refills draw extra prompts, so a pass is no fixed step count"
            )
        # the sets exist only once the step runs: the checks stand a mixture / no prompts file in for them
        self.sft_config(self.seeds[0], Path("<step>"), None, 1)
        rl = self.rl_config(self.seeds[0], Path("<step>"), None, 1)
        self._rl_prompts = rl.rollout.batch_size // rl.rollout.group_size
        self.eval_config("<each checkpoint>")
        return self

    def sft_config(
        self, seed: int, step_dir: Path, train: str | None, max_steps: int, stop_at: int | None = None
    ) -> MidtrainConfig:
        """The SFT arm's mid-training config: ``objective: sft`` on the training file ``train``, no held-out rows
        (so every puzzle is trained on), ``max_steps`` for the whole run and ``stop_at`` for this segment."""
        source = {"problems": train} if train else {"mixture": [{"task": "knights", "knobs": self.knobs}]}
        data = {"style": self.style, "val_rows": 0, **source}
        fixed = {
            "name": "sft",
            "out_dir": str(step_dir / f"sft-s{seed}"),
            "init_from": self.init_from,
            "seed": seed,
            "objective": "sft",
            "data": data,
            "optim": {"max_steps": max_steps, "stop_at": stop_at},
        }
        return self._validated(MidtrainConfig, deep_merge(self.sft, fixed), f"sft, seed {seed}")

    def rl_config(
        self, seed: int, step_dir: Path, train: str | None, steps: int, stop_at: int | None = None
    ) -> RLConfig:
        """The RL arm's config: prompts from the training file ``train`` in shuffled passes, ``steps`` for the
        whole run, and a prompt budget that stops this segment after ``stop_at`` steps (reward: logic_rl unless
        the ``rl`` mapping names another scheme)."""
        task = {"reward": "logic_rl", **(self.rl.get("task") or {}), "name": "knights", "knobs": self.knobs}
        task.update({"style": self.style, "prompt_order": "shuffle", **({"prompts": train} if train else {})})
        fixed = {
            "name": "rl",
            "out_dir": str(step_dir / f"rl-s{seed}"),
            "init_from": self.init_from,
            "seed": seed,
            "steps": steps,
            "task": task,
            "budget": {"prompts": None if stop_at is None else stop_at * self.rl_prompts_per_step},
        }
        return self._validated(RLConfig, deep_merge(self.rl, fixed), f"rl, seed {seed}")

    def eval_config(self, model: str) -> EvalConfig:
        """The evaluation config of one point: the ``eval`` mapping on knights at the step's knobs and style,
        one bucket per people count (the reward recorded per sample defaults to the RL arm's)."""
        params = checked_params("knights", self.knobs)
        data = {
            "reward": (self.rl.get("task") or {}).get("reward", "logic_rl"),
            **self.eval,
            "name": "memorisation",
            "model": model,
            "task": "knights",
            "buckets": {"knob": "people", "values": params.people.values()},
            "fixed": {k: v for k, v in self.knobs.items() if k != "people"},
            "prompt_style": self.style,
            "report": False,
        }
        return self._validated(EvalConfig, data, "evaluation")

    @staticmethod
    def _validated(cls: Any, data: dict[str, Any], what: str) -> Any:
        try:
            return validate(cls, data, source=f"memorisation: {what}")
        except ReasonlabError as exc:
            raise ValueError(str(exc)) from None

    def data_settings(self) -> dict[str, Any]:
        """What the fixed sets are a function of (compared when a killed step resumes)."""
        return {
            "init_from": str(resolve_model_path(self.init_from, "init_from")),
            "knobs": self.knobs,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "data_seed": self.data_seed,
            "perturbations": self.perturbations,
        }


# ----------------------------------------------------------------------------- the fixed sets


def prepare_data(config: MemorisationConfig, step_dir: Path, log: Callable[[str], None]) -> dict[str, Any]:
    """Write the training, test and perturbed sets into ``STEP/data/`` (once); return ``data.json``'s record."""
    data_dir = step_dir / "data"
    settings = config.data_settings()
    if (data_dir / "data.json").is_file():
        record = read_json(data_dir / "data.json", "memorisation data record")
        diff = config_differences(record.get("settings"), settings)
        if diff:
            raise ReasonlabError(f"{data_dir}: made with other settings ({', '.join(diff)}); run with --fresh")
        return dict(record)
    task = get_task("knights")
    params = checked_params("knights", config.knobs)
    _, banned = lineage_prompt_hashes(settings["init_from"])
    seed = memorisation_data_seed(config.data_seed)
    want = n_draw = config.n_train + config.n_test
    while True:  # generation is prefix-stable: drawing more only appends puzzles
        kept: list[Any] = []
        dropped = 0
        for p in task.generate(params, n_draw, seed):
            if len(kept) == want:
                break
            if prompt_hash(p.prompt) in banned:
                dropped += 1
            else:
                kept.append(p)
        if len(kept) == want:
            break
        if n_draw > 20 * want:
            raise ReasonlabError(f"memorisation: {dropped} of {n_draw} puzzles are in the base model's training data")
        n_draw += 2 * (want - len(kept)) + 1
    train, test = kept[: config.n_train], kept[config.n_train :]
    files = {"train": data_dir / "train.jsonl", "test": data_dir / "test.jsonl"}
    write_records(files["train"], [p.to_dict() for p in train])
    write_records(files["test"], [p.to_dict() for p in test])
    perturbed: dict[str, dict[str, int]] = {}
    failures = []
    for kind in config.perturbations:
        result = perturb_problems(train, kind, config.data_seed)
        files[kind] = data_dir / f"perturbed-{kind}.jsonl"
        write_records(files[kind], [p.to_dict() for p in result.problems])
        failures += [{"id": pid, "kind": kind, "reason": why} for pid, why in result.failures]
        perturbed[kind] = {"n": len(result.problems), "failed": len(result.failures)}
        log(f"[memorisation] perturbed {len(result.problems)} of {len(train)} training puzzles with {kind!r}")
    write_records(data_dir / "perturb_failures.jsonl", failures)
    record = {
        "settings": settings,
        "generator_seed": seed,
        "n_train": len(train),
        "n_test": len(test),
        "dropped_seen_by_base": dropped,
        "perturbed": perturbed,
        "files": {name: str(path) for name, path in files.items()},
    }
    atomic_write_text(data_dir / "data.json", json.dumps(record, indent=1))
    return record


# ----------------------------------------------------------------------------- points


def checkpoint_steps(arm: str, per_epoch: float, epochs: list[float]) -> list[int]:
    """``round(epoch * per_epoch)`` for each checkpoint epoch; a one-line error unless every step is >= 1 and
    the steps increase (too few steps per pass to tell the checkpoints apart)."""
    steps = [round(e * per_epoch) for e in epochs]
    if steps[0] < 1 or any(b <= a for a, b in itertools.pairwise(steps)):
        raise ReasonlabError(
            f"memorisation: {arm} makes {per_epoch:.3g} steps per pass, so checkpoints at epochs {epochs} fall on "
            f"steps {steps}; use fewer or wider-spaced checkpoints, a smaller batch or a larger training set"
        )
    return steps


def _sft_per_epoch(config: MemorisationConfig, seed: int, step_dir: Path, train: str) -> float:
    """SFT steps per pass: the packed rows of the training set (built exactly as the arm's run builds them)
    over the rows a step reads; every puzzle must fit a row."""
    cfg = config.sft_config(seed, step_dir, train, 1)
    model_dir = resolve_model_path(config.init_from, "init_from")
    tokenizer = TaskTokenizer.load(model_dir)
    prompter = Prompter(cfg.data.style, tokenizer, str(model_dir))
    corpus, stats, _ = build_midtrain_corpus(cfg, tokenizer, prompter, log=lambda _m: None)
    if stats["dropped_too_long"]:
        raise ReasonlabError(
            f"memorisation: {stats['dropped_too_long']} training puzzles do not fit sft.data.seq_len "
            f"{cfg.data.seq_len}; raise it so SFT trains on every puzzle"
        )
    return corpus.n_rows / (cfg.optim.batch_size * cfg.optim.grad_accum)


def point_metrics(records: dict[str, list[dict[str, Any]]], kinds: list[str]) -> dict[str, Any]:
    """One point's numbers from its score records by set (``train``, ``test`` and one set per kind): training
    and test accuracy (:func:`~reasonlab.eval.limem.accuracy`), LiMem, CR and the perturbed accuracy per kind,
    and LiMem's and CR's means over the kinds measured (:func:`~reasonlab.eval.limem.limem_by_kind`)."""
    lim = limem_by_kind(records["train"], [r for k in kinds for r in records[k]], kinds)
    rows = lim["kinds"]
    return {
        "train_acc": accuracy(records["train"]),
        "test_acc": accuracy(records["test"]),
        "limem": {k: None if rows[k] is None else rows[k]["limem"] for k in kinds},
        "cr": {k: None if rows[k] is None else rows[k]["cr"] for k in kinds},
        "acc_perturbed": {k: None if rows[k] is None else rows[k]["acc_perturbed"] for k in kinds},
        "limem_mean": lim["limem_mean"],
        "cr_mean": lim["cr_mean"],
    }


def evaluate_point(
    config: MemorisationConfig, model_path: str, sets: dict[str, list[dict[str, Any]]], out: Path
) -> dict[str, Any]:
    """Sample and verify every set with ``model_path``; write ``out/<set>.jsonl`` and return the point's numbers
    (:func:`point_metrics`, plus LiMem per kind and people count from the same records)."""
    ecfg = config.eval_config(model_path)
    model, tokenizer = load_model(resolve_model_path(model_path), device=str(resolve_device(ecfg.device)))
    where = {row["id"]: name for name, rows in sets.items() for row in rows}
    rows = [{**row, "bucket": row["meta"]["people"], "cluster": None} for rs in sets.values() for row in rs]
    threads = torch.get_num_threads()
    t0 = time.perf_counter()
    try:
        if ecfg.threads:
            torch.set_num_threads(ecfg.threads)
        model.eval()
        with torch.inference_mode():
            records, _ = sample_and_score(ecfg, get_task("knights"), rows, model, tokenizer, progress=False)
    finally:
        torch.set_num_threads(threads)
    by_set: dict[str, list[dict[str, Any]]] = {name: [] for name in sets}
    for r in records:
        by_set[where[r["id"]]].append(r)
    for name, rs in by_set.items():
        write_records(out / f"{name}.jsonl", rs)
    kinds = [k for k in sets if k not in ("train", "test")]
    by_people = limem_table(by_set["train"], [r for k in kinds for r in by_set[k]], people_by_id(sets["train"]))
    return {
        "model": model_path,
        **point_metrics(by_set, kinds),
        "limem_by_people": [row.to_dict() for row in by_people],
        "eval_seconds": time.perf_counter() - t0,
    }


# ----------------------------------------------------------------------------- arms


def _train_segment(
    config: MemorisationConfig, arm: str, seed: int, step_dir: Path, train: str, total: int, stop: int, log: Any
) -> dict[str, Any]:
    """Train ``arm`` up to step ``stop`` of a ``total``-step run (resuming its own checkpoints); returns the
    model path, this segment's seconds and the run's FLOP total so far."""
    if arm == "sft":
        summary = midtrain(config.sft_config(seed, step_dir, train, total, stop), log=log)
    else:
        summary = train_rl(config.rl_config(seed, step_dir, train, total, stop), log=log)
    if summary["steps"] != stop:
        raise ReasonlabError(f"memorisation: {arm} seed {seed} stopped at step {summary['steps']}, not {stop}")
    return {"model": str(summary["model"]), "seconds": float(summary["seconds"]), "flops_total": summary["flops_total"]}


def run_arm(
    config: MemorisationConfig,
    arm: str,
    seed: int,
    step_dir: Path,
    data: dict[str, Any],
    sets: dict[str, list[dict[str, Any]]],
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Train and evaluate one (arm, seed) at every checkpoint, skipping finished points; ``STEP/<arm>-s<seed>/
    done.json`` when all are done (returned)."""
    sub = step_dir / f"{arm}-s{seed}"
    if (sub / "done.json").is_file():
        log(f"[memorisation] {arm} seed {seed}: done already, skipping")
        return dict(read_json(sub / "done.json", "memorisation arm record"))
    train = data["files"]["train"]
    if arm == "sft":
        per_epoch = _sft_per_epoch(config, seed, step_dir, train)
    else:
        per_epoch = data["n_train"] / config.rl_prompts_per_step
    steps = checkpoint_steps(arm, per_epoch, config.checkpoints)
    base_flops = read_compute(resolve_model_path(config.init_from, "init_from")).flops_total
    points = []
    for epoch, stop in zip(config.checkpoints, steps, strict=True):
        pdir = sub / "points" / f"epoch-{epoch:g}"
        if (pdir / "point.json").is_file():
            points.append(read_json(pdir / "point.json", "memorisation point"))
            continue
        log(f"[memorisation] {arm} seed {seed}: training to epoch {epoch:g} (step {stop} of {steps[-1]})")
        seg = _train_segment(config, arm, seed, step_dir, train, steps[-1], stop, log)
        point = {"epoch": epoch, "step": stop, "epochs_trained": stop / per_epoch, "train_seconds": seg["seconds"]}
        # the SFT ledger continues the base model's totals; RL's counts its own
        point["flops"] = seg["flops_total"] - (base_flops if arm == "sft" else 0.0)
        point.update(evaluate_point(config, seg["model"], sets, pdir))
        atomic_write_text(pdir / "point.json", json.dumps(point, indent=1))
        log(
            f"[memorisation] {arm} seed {seed} epoch {epoch:g}: train acc {point['train_acc']:.3f}, "
            f"test acc {point['test_acc']:.3f}, mean LiMem {_fmt(point['limem_mean'])}"
        )
        points.append(point)
    record = {"arm": arm, "seed": seed, "steps_per_epoch": per_epoch, "steps": steps, "points": points}
    atomic_write_text(sub / "done.json", json.dumps(record, indent=1))
    return record


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


#: The numbers of a point that memorisation.json keeps per seed (scalars, then per-kind mappings).
SCALARS = ("train_acc", "test_acc", "limem_mean", "cr_mean")
PER_KIND = ("limem", "cr", "acc_perturbed")


def _aggregate(per_seed: dict[str, dict[str, Any]], kinds: list[str]) -> dict[str, Any]:
    """Mean +- std over seeds (ddof 1; None below two seeds) of every number of a point."""
    out: dict[str, Any] = {key: mean_std([p[key] for p in per_seed.values()]) for key in SCALARS}
    for key in PER_KIND:
        out[key] = {k: mean_std([p[key][k] for p in per_seed.values()]) for k in kinds}
    return out


def summarise(
    config: MemorisationConfig, data: dict[str, Any], base: dict[str, Any], runs: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """``memorisation.json``: the sets, then per arm its points (the base at epoch 0, then each checkpoint) with
    every seed's numbers and their mean +- std, and per seed the cost of training."""
    kinds = list(config.perturbations)
    keep = (*SCALARS, *PER_KIND)
    arms: dict[str, Any] = {}
    for arm in ARMS:
        seeds = {str(s): runs[arm][str(s)] for s in config.seeds}
        points: list[dict[str, Any]] = [
            {"epoch": 0.0, "step": dict.fromkeys(seeds, 0), "seeds": {s: {k: base[k] for k in keep} for s in seeds}}
        ]
        for i, epoch in enumerate(config.checkpoints):
            at = {s: r["points"][i] for s, r in seeds.items()}
            points.append(
                {
                    "epoch": epoch,
                    "step": {s: p["step"] for s, p in at.items()},
                    "seeds": {s: {k: p[k] for k in keep} for s, p in at.items()},
                }
            )
        for p in points:
            p["mean"] = _aggregate(p["seeds"], kinds)
        arms[arm] = {
            "steps_per_epoch": {s: r["steps_per_epoch"] for s, r in seeds.items()},
            "points": points,
            "cost": {
                s: {
                    "steps": r["points"][-1]["step"],
                    "flops": r["points"][-1]["flops"],
                    "train_seconds": sum(p["train_seconds"] for p in r["points"]),
                    "eval_seconds": sum(p["eval_seconds"] for p in r["points"]),
                }
                for s, r in seeds.items()
            },
        }
    ecfg = config.eval_config(data["settings"]["init_from"])
    return {
        "schema": "reasonlab.memorisation/1",
        "init_from": data["settings"]["init_from"],
        "knobs": config.knobs,
        "style": config.style,
        "kinds": kinds,
        "seeds": config.seeds,
        "checkpoints": config.checkpoints,
        "data": {k: data[k] for k in ("n_train", "n_test", "dropped_seen_by_base", "perturbed", "files")},
        "eval": {
            "seeds": ecfg.seeds,
            "samples_per_seed": ecfg.samples_per_seed,
            "decoding": ecfg.decoding.model_dump(mode="json"),
        },
        "rl_prompts_per_step": config.rl_prompts_per_step,
        "arms": arms,
    }


def run_memorisation(config: MemorisationConfig, step_dir: Path, log: Callable[[str], None]) -> dict[str, Any]:
    """Run the whole test (every point not yet done); write and return ``STEP/memorisation.json``."""
    data = prepare_data(config, step_dir, log)
    sets = {name: read_records(path) for name, path in data["files"].items()}
    base_dir = step_dir / "base"
    if (base_dir / "point.json").is_file():
        base = read_json(base_dir / "point.json", "memorisation point")
    else:
        log("[memorisation] evaluating the base model (epoch 0 of both arms)")
        base = evaluate_point(config, data["settings"]["init_from"], sets, base_dir)
        atomic_write_text(base_dir / "point.json", json.dumps(base, indent=1))
    runs: dict[str, dict[str, Any]] = {arm: {} for arm in ARMS}
    for arm in ARMS:
        for seed in config.seeds:
            runs[arm][str(seed)] = run_arm(config, arm, seed, step_dir, data, sets, log)
    out = summarise(config, data, base, runs)
    atomic_write_text(step_dir / "memorisation.json", json.dumps(out, indent=1))
    return out
