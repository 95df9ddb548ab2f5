"""How fragile is a conclusion? One or two models evaluated under other decoding settings, prompt
templates, token budgets, generation frameworks and devices ("A Sober Look at Progress in LM
Reasoning", arXiv 2504.07086).

The sweep is one factor at a time around a base setting: the base evaluation, then for each factor each
alternative value with everything else as in the base. Every setting evaluates the same problems with
the same sampling seeds (the standard protocol), so settings and models compare problem by problem.
For each model and setting: pass@1 by answer and by process-verified correctness with its CI; for each
model, the spread across settings next to its seed band (the spread of pass@1 over sampling seeds in
the base setting); for each setting, the paired difference from the base setting (the framework effect
is the ``engine`` row); with two models, the paired difference between them in every setting, and
whether their ranking or the paired verdict flips anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from reasonlab.config import StrictModel, check_name, validate
from reasonlab.errors import ReasonlabError
from reasonlab.eval import metrics as M
from reasonlab.eval.compare import compare_records
from reasonlab.eval.config import EvalConfig
from reasonlab.eval.protocol import run_eval
from reasonlab.eval.record import load_run
from reasonlab.eval.stats import per_seed_pass1
from reasonlab.io import atomic_write_text

__all__ = ["FACTORS", "SensitivityConfig", "run_sensitivity", "settings_of"]

#: Factors of the sweep and where each lives in an EvalConfig.
FACTORS = {
    "temperature": ("decoding", "temperature"),
    "top_p": ("decoding", "top_p"),
    "max_new_tokens": ("decoding", "max_new_tokens"),
    "prompt_style": (None, "prompt_style"),
    "engine": (None, "engine"),
    "device": (None, "device"),
}
SCHEMA = "reasonlab.eval.sensitivity/1"
#: The default sweep around the base setting (the Sober Look's factors, one at a time).
DEFAULT_SWEEP: dict[str, list[Any]] = {
    "temperature": [0.6, 1.0],
    "top_p": [0.9],
    "max_new_tokens": [64],
    "prompt_style": ["chat"],
    "engine": ["transformers"],
}


class SensitivityConfig(StrictModel):
    """A sensitivity sweep: the base evaluation, the models, and the alternative value of each factor."""

    name: str = Field("sensitivity", description="run name (a plain name)")
    eval: dict[str, Any] = Field(description="the base setting: an EvalConfig mapping (its model is ignored)")
    models: dict[str, str] = Field(description="label -> model path (one or two models)", min_length=1, max_length=2)
    sweep: dict[str, list[Any]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_SWEEP.items()},
        description="factor -> alternative values (factors: " + ", ".join(FACTORS) + ")",
    )

    @field_validator("name")
    @classmethod
    def _plain(cls, v: str) -> str:
        return check_name(v)

    @field_validator("sweep")
    @classmethod
    def _factors(cls, v: dict[str, list[Any]]) -> dict[str, list[Any]]:
        bad = sorted(set(v) - set(FACTORS))
        if bad:
            raise ValueError(f"unknown factor {bad[0]!r} (allowed: {', '.join(FACTORS)})")
        return v

    @field_validator("models")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        for label in v:
            check_name(label)
        return v


def _with(base: dict[str, Any], factor: str, value: Any) -> dict[str, Any]:
    section, key = FACTORS[factor]
    out = json.loads(json.dumps(base))
    if section is None:
        out[key] = value
    else:
        out.setdefault(section, {})[key] = value
    return out


def _value(cfg: EvalConfig, factor: str) -> Any:
    section, key = FACTORS[factor]
    return getattr(getattr(cfg, section) if section else cfg, key)


def settings_of(config: SensitivityConfig) -> list[tuple[str, str | None, Any, EvalConfig]]:
    """``(setting name, factor, value, EvalConfig)`` of the base and of every one-factor variation.

    Every setting is validated before anything runs (a bad value is a one-line error naming it).
    """
    base = validate(EvalConfig, {**config.eval, "model": "<model>", "report": False}, source="sensitivity eval")
    out: list[tuple[str, str | None, Any, EvalConfig]] = [("base", None, None, base)]
    data = base.model_dump(mode="json")
    for factor, values in config.sweep.items():
        for value in values:
            if value == _value(base, factor):
                continue
            cfg = validate(EvalConfig, _with(data, factor, value), source=f"sensitivity {factor}={value}")
            out.append((f"{factor}={value}", factor, value, cfg))
    return out


def _pass1(summary: dict[str, Any], corr: str) -> dict[str, Any] | None:
    block = summary["overall"].get(corr)
    if block is None:
        return None
    p = block["pass@k"]["1"]
    return {"mean": p["mean"], "ci": p["ci"]}


def run_sensitivity(config: SensitivityConfig, out_dir: str | Path, *, log: Any = None) -> dict[str, Any]:
    """Evaluate every (setting, model) into ``out_dir/<setting>/<label>/`` and return the analysis
    (also written to ``out_dir/sensitivity.json``); settings already evaluated are read back."""
    out = Path(out_dir)
    settings = settings_of(config)
    say = log or (lambda _m: None)
    runs: dict[str, dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]] = {}
    for name, _, _, cfg in settings:
        runs[name] = {}
        for label, model in config.models.items():
            d = out / _dirname(name) / label
            if not (d / "eval" / "summary.json").is_file():
                say(f"[sensitivity] {name}: {label}")
                run_eval(cfg.model_copy(update={"model": model, "name": label}), d, progress=False, log=say)
            runs[name][label] = load_run(d)
    result = analyse(settings, runs, list(config.models))
    result["config"] = config.model_dump(mode="json")
    atomic_write_text(out / "sensitivity.json", json.dumps(result, indent=1))
    return result


def _dirname(setting: str) -> str:
    return setting.replace("=", "-").replace("/", "_")


def analyse(
    settings: list[tuple[str, str | None, Any, EvalConfig]],
    runs: dict[str, dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]],
    labels: list[str],
) -> dict[str, Any]:
    """The statistics of a sweep (see the module docstring) from each run's summary and sample records."""
    if not settings:
        raise ReasonlabError("sensitivity: no setting to analyse")
    rows = []
    base_name = settings[0][0]
    for name, factor, value, cfg in settings:
        row: dict[str, Any] = {"setting": name, "factor": factor, "value": value, "models": {}}
        for label in labels:
            summary, records = runs[name][label]
            entry: dict[str, Any] = {"outcome": _pass1(summary, "outcome"), "process": _pass1(summary, "process")}
            if name != base_name:
                _, base_records = runs[base_name][label]
                vs = compare_records(base_records, records, [1], n_perm=2000, seed=cfg.seed)
                entry["vs_base"] = {"outcome": vs["paired"], "process": vs.get("process", {}).get("paired")}
            row["models"][label] = entry
        if len(labels) == 2:
            a, b = labels
            cmp_ = compare_records(runs[name][a][1], runs[name][b][1], [1], n_perm=2000, seed=cfg.seed)
            row["pair"] = {"outcome": cmp_["paired"], "process": cmp_.get("process", {}).get("paired")}
        rows.append(row)
    models = {}
    for label in labels:
        base_records = runs[base_name][label][1]
        spread = {}
        for corr in ("outcome", "process"):
            vals = [r["models"][label][corr]["mean"] for r in rows if r["models"][label][corr] is not None]
            if vals:
                per_seed = per_seed_pass1(base_records, process=corr == "process")
                spread[corr] = {
                    "settings_min": min(vals),
                    "settings_max": max(vals),
                    "settings_range": max(vals) - min(vals),
                    "seed_band": M.seed_band(per_seed),
                }
        models[label] = spread
    flips = _flips(rows) if len(labels) == 2 else None
    return {"schema": SCHEMA, "models": labels, "rows": rows, "spread": models, "flips": flips}


def _verdict_of(paired: dict[str, Any] | None, alpha: float = 0.05) -> str:
    if paired is None:
        return "n/a"
    if paired["p_value"] >= alpha:
        return "no significant difference"
    return "B better" if paired["mean_diff"] > 0 else "A better"


def _flips(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Settings where the two models' ranking or the paired verdict differs from the base setting's."""
    out: dict[str, Any] = {}
    for corr in ("outcome", "process"):
        base = rows[0].get("pair", {}).get(corr)
        if base is None:
            continue
        base_rank = base["mean_diff"] > 0
        base_verdict = _verdict_of(base)
        out[corr] = {
            "base_verdict": base_verdict,
            "ranking_flips": [
                r["setting"] for r in rows[1:] if r["pair"][corr] and (r["pair"][corr]["mean_diff"] > 0) != base_rank
            ],
            "verdict_flips": [
                r["setting"] for r in rows[1:] if r["pair"][corr] and _verdict_of(r["pair"][corr]) != base_verdict
            ],
        }
    return out
