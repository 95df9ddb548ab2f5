"""The report of a recipe run (``report.md``, ``plots/``, ``results.json``): the verdict first, then the
tables and plots, read from the steps' own output files.

The ``report`` step names the steps to read: ``baseline``/``candidate`` (eval run dirs), ``compare``,
optional ``pretrain``/``rl`` (run dirs), a ``title``, the paper's ``claim``, and the band of each
bucket: from an evaluation that classified them (``bands_from: "@eval_base"``) or given by hand
(``bands``).

Every comparison is reported by process-verified correctness (answer and every step, the CMU
standard) and by answer correctness, with the paired test per bucket, its p-value raw and corrected
for the number of buckets tested (Holm), the chance level of guessing, and a flag where the base model
is at chance (nothing there for RL to amplify).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from reasonlab.config import StrictModel
from reasonlab.errors import ReasonlabError
from reasonlab.eval.findings import diversity_finding, length_finding
from reasonlab.eval.metrics import chance_pass_at_k, holm_adjust
from reasonlab.eval.record import load_run
from reasonlab.io import atomic_write_text, read_json
from reasonlab.report.arms_data import band_effect
from reasonlab.report.arms_studies import STUDIES
from reasonlab.report.plots import plot_band_pass_at_k, plot_rl_curve
from reasonlab.report.shapes import shape_finding, shape_section
from reasonlab.rewards import check_reward
from reasonlab.rundir import RunDir

__all__ = [
    "CORRECTNESS",
    "ReportStepConfig",
    "claim_status",
    "comparison_rows",
    "report_bands",
    "rows_table",
    "verdict",
    "write_pipeline_report",
]

#: The two kinds of correctness every table reports, the CMU standard first.
CORRECTNESS = ("process", "outcome")
LABEL = {"process": "process-verified", "outcome": "answer only"}
BAND_LABEL = {"in_range": "in range", "edge": "edge", "hard": "hard"}
#: The CMU claim the quickstart and the edge-of-competence recipe test.
EDGE_CLAIM = (
    "RL adds reasoning on the edge of competence: on ops just beyond what pre-training mastered it raises "
    "process-verified pass@1 and pass@k, while RL on mastered ops only sharpens pass@1 and on far-too-hard ops does "
    "nothing."
)


class ReportStepConfig(StrictModel):
    """A recipe's ``report`` step: which steps to read, the claim tested, and the band of each bucket."""

    baseline: str | None = Field(None, description="baseline eval step, e.g. @eval_base")
    candidate: str | None = Field(None, description="candidate eval step, e.g. @eval_rl")
    compare: str | None = Field(None, description="compare step, e.g. @compare")
    arms: str | None = Field(None, description="an arms step (RL arms x seeds), e.g. @arms: the multi-arm report")
    exposures: dict[str, str] | None = Field(
        None, description="context transfer: exposure label -> its arms step, e.g. {'1%': '@arms_1pct'}"
    )
    memorisation: str | None = Field(
        None, description="a memorisation step (SFT vs RL on one training set), e.g. @memorisation: its report"
    )
    limem_rise: float = Field(
        0.05, gt=0, le=1, description="memorisation: the rise of mean LiMem (a share of the training set) that counts"
    )
    min_accuracy: float = Field(
        0.1,
        ge=0,
        le=1,
        description="memorisation: a final accuracy below this is a floor, and a claim resting on it is not testable",
    )
    study: str = Field(
        "edge",
        description="the claim an arms report judges: edge, midtrain_vs_rl, process_reward, "
        "algorithms, curriculum or none",
    )
    rewards: list[str] = Field(
        default_factory=list,
        description="arms: also score every evaluation's samples under these reward schemes and show where they "
        "disagree with the first, e.g. [logic_rl, logic_rl_strict] (does a stricter rule change what is rewarded?)",
    )
    pretrain: str | None = Field(None, description="pre-training run, e.g. @pretrain.run")
    rl: str | None = Field(None, description="RL run, e.g. @rl.run")
    title: str | None = Field(None, description="report title (default: the recipe name)")
    claim: str | None = Field(None, description="the published claim the verdict is stated against")
    bands_from: str | None = Field(None, description="an eval step that classified its buckets, e.g. @eval_base")
    bands: dict[str, str] = Field(default_factory=dict, description="bucket -> band label, when not bands_from")
    headline_band: str = Field("edge", description="the band the verdict leads with")
    min_gain: float = Field(0.10, ge=0, description="the pass@1 gain (process-verified) the claim calls a gain")
    alpha: float = Field(0.01, gt=0, lt=1, description="significance level of the headline test (Holm-corrected)")

    @field_validator("rewards")
    @classmethod
    def _known_rewards(cls, v: list[str]) -> list[str]:
        for name in v:
            try:
                check_reward(name)
            except ReasonlabError as exc:
                raise ValueError(str(exc)) from None
        if len(v) == 1:
            raise ValueError("rewards: name two or more schemes to compare, or none")
        return v

    @field_validator("bands", mode="before")
    @classmethod
    def _keys_as_text(cls, v: Any) -> Any:
        return {str(k): str(x) for k, x in v.items()} if isinstance(v, dict) else v

    @model_validator(mode="after")
    def _one_kind(self) -> ReportStepConfig:
        pair = (self.baseline, self.candidate, self.compare)
        if self.arms is None and self.exposures is None and self.memorisation is None and None in pair:
            raise ValueError("a report needs baseline, candidate and compare (or arms, exposures or memorisation)")
        if self.study not in STUDIES:
            raise ValueError(f"unknown study {self.study!r}; choose from {', '.join(STUDIES)}")
        return self


def _ci(block: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if block is None else {"mean": block["mean"], "ci": block["ci"]}


def comparison_rows(
    base: dict[str, Any], cand: dict[str, Any], compare: dict[str, Any], bands: dict[str, str]
) -> list[dict[str, Any]]:
    """One row per bucket and one for all buckets: both models' pass@k and the paired tests, by
    process-verified and answer correctness, Holm-corrected across buckets, with the chance level."""
    ks = sorted(int(k) for k in compare.get("k", [1]))
    rows = []
    for bucket in [*compare["buckets"], "all"]:
        b = base["overall"] if bucket == "all" else base["buckets"].get(bucket)
        c = cand["overall"] if bucket == "all" else cand["buckets"].get(bucket)
        cmp_ = compare["overall"] if bucket == "all" else compare["buckets"][bucket]
        if b is None or c is None:
            continue
        answers = b.get("answer_space")
        row: dict[str, Any] = {
            "bucket": bucket,
            "band": bands.get(bucket, "all" if bucket == "all" else ""),
            "n_problems": cmp_["n_problems"],
            "k": ks,
            "answer_space": answers,
        }
        for corr in CORRECTNESS:
            stats = cmp_ if corr == "outcome" else cmp_.get("process")
            if stats is None or b.get(corr) is None or c.get(corr) is None:
                continue
            chance = {
                str(k): (0.0 if corr == "process" else chance_pass_at_k(answers, k) if answers else None) for k in ks
            }
            base_k = {str(k): _ci(b[corr]["pass@k"].get(str(k))) for k in ks}
            row[corr] = {
                "base": base_k,
                "rl": {str(k): _ci(c[corr]["pass@k"].get(str(k))) for k in ks},
                "diff_pass@1": stats["paired"],
                "delta@k": {
                    k: {"mean_diff": d["mean_diff"], "p_value": d["p_value"]} for k, d in stats["delta@k"].items()
                },
                "chance": chance,
                "base_at_chance": _at_chance(base_k, chance),
            }
        rows.append(row)
    for corr in CORRECTNESS:
        tested = [r for r in rows if r["bucket"] != "all" and corr in r]
        for r, p in zip(tested, holm_adjust([r[corr]["diff_pass@1"]["p_value"] for r in tested]), strict=True):
            r[corr]["diff_pass@1"]["p_holm"] = p
    return rows


def _at_chance(base: dict[str, dict[str, Any] | None], chance: dict[str, float | None]) -> bool:
    """The base is at chance when every pass@k CI reaches down to the chance level (0 for process)."""
    checks = [
        blk["ci"][0] <= ch + 1e-12 for k, blk in base.items() if blk is not None and (ch := chance[k]) is not None
    ]
    return bool(checks) and all(checks)


def rows_table(rows: list[dict[str, Any]], corr: str) -> str:
    """Markdown table of :func:`comparison_rows` for one kind of correctness."""
    ks = rows[0]["k"] if rows else [1]
    kmax = str(ks[-1])
    head = (
        "| op | band | problems | base pass@1 [95% CI] | RL pass@1 [95% CI] | RL - base pass@1 [95% CI] | p | "
        f"p (Holm) | base pass@{kmax} | RL pass@{kmax} | RL - base pass@{kmax} (p) | chance pass@1 / @{kmax} |"
    )
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        if corr not in r:
            continue
        x = r[corr]
        d = x["diff_pass@1"]
        dk = x["delta@k"].get(kmax)
        holm = "-" if "p_holm" not in d else f"{d['p_holm']:.3g}"
        chance = "-" if x["chance"]["1"] is None else f"{x['chance']['1']:.3f} / {x['chance'][kmax]:.3f}"
        dk_cell = "-" if dk is None else f"{dk['mean_diff']:+.3f} ({dk['p_value']:.3g})"
        flag = " (base at chance)" if x["base_at_chance"] and r["bucket"] != "all" else ""
        lines.append(
            f"| {r['bucket']} | {BAND_LABEL.get(r['band'], r['band'])}{flag} | {r['n_problems']} | "
            f"{_cell(x['base']['1'])} | {_cell(x['rl']['1'])} | "
            f"{d['mean_diff']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}] | {d['p_value']:.3g} | {holm} | "
            f"{_cell(x['base'].get(kmax))} | {_cell(x['rl'].get(kmax))} | "
            f"{dk_cell} | {chance} |"
        )
    return "\n".join(lines)


def _cell(block: dict[str, Any] | None) -> str:
    return "-" if not block else f"{block['mean']:.3f} [{block['ci'][0]:.3f}, {block['ci'][1]:.3f}]"


def _pp(x: float) -> str:
    return f"{100 * x:+.1f} pp"


def claim_status(d1: dict[str, Any], dk: dict[str, Any], min_gain: float, alpha: float) -> str:
    """The CMU claim judged on a band's pooled paired differences of pass@1 (``d1``) and pass@k (``dk``).

    ``reproduced``: pass@1 rises by >= ``min_gain`` with p < ``alpha`` and pass@k rises with p < 0.05;
    ``partly``: both rise significantly (pass@1 with p < ``alpha``, pass@k with p < 0.05) but pass@1 by less
    than ``min_gain`` (the claim's direction without its size); ``not reproduced``: anything else, including
    the sharpening signature (pass@1 up, pass@k flat or down). Example: +9.3 pp (p 0.0001) with pass@16
    +12.5 pp (p 0.0004) and ``min_gain`` 0.10 is ``partly``.
    """
    both_rise = d1["mean_diff"] > 0 and d1["p_value"] < alpha and dk["mean_diff"] > 0 and dk["p_value"] < 0.05
    if not both_rise:
        return "not reproduced"
    return "reproduced" if d1["mean_diff"] >= min_gain else "partly"


def verdict(rows: list[dict[str, Any]], config: ReportStepConfig, band: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one-paragraph verdict: the headline band's process-verified gains against the claim, then the
    other bands; ``reproduced`` is True, False, or None when there is no headline bucket, and ``status`` says
    ``reproduced``, ``partly`` (:func:`claim_status`; pooled band only) or ``not reproduced``.

    With ``band`` (:func:`pooled_band`: the headline band's problems pooled) the claim is judged on the band
    as a whole: a pass@1 gain >= ``min_gain`` with p < ``alpha`` and a pass@k gain with p < 0.05; without
    it, every headline bucket must show the pass@1 gain and a positive pass@k delta.
    """
    kmax = str(rows[0]["k"][-1]) if rows else "1"
    corr = "process" if any("process" in r for r in rows) else "outcome"
    parts: list[str] = []
    head = [r for r in rows if r["band"] == config.headline_band and corr in r]
    reproduced: bool | None = None
    status: str | None = None
    if band is not None and band.get("pass@1") and band.get(f"pass@{kmax}"):
        d1, dk = band["pass@1"], band[f"pass@{kmax}"]
        parts.append(
            f"over the whole {config.headline_band} band (ops {', '.join(band['buckets'])}; {d1['n']} problems "
            f"pooled), {LABEL[corr]} pass@1 changed by {_pp(d1['mean_diff'])} (95% CI [{_pp(d1['ci_low'])}, "
            f"{_pp(d1['ci_high'])}], p = {d1['p_value']:.2g}) and pass@{kmax} by {_pp(dk['mean_diff'])} "
            f"(p = {dk['p_value']:.2g})"
        )
        status = claim_status(d1, dk, config.min_gain, config.alpha)
        reproduced = status == "reproduced"
    if head:
        gains = []
        for r in head:
            d, dk = r[corr]["diff_pass@1"], r[corr]["delta@k"].get(kmax)
            ok = d["mean_diff"] >= config.min_gain and d.get("p_holm", d["p_value"]) < config.alpha
            gains.append(ok and dk is not None and dk["mean_diff"] > 0)
            base1 = r[corr]["base"]["1"]["mean"]
            rl1 = r[corr]["rl"]["1"]["mean"]
            parts.append(
                f"on {config.headline_band} op {r['bucket']}, {LABEL[corr]} pass@1 went from {base1:.3f} to {rl1:.3f} "
                f"({_pp(d['mean_diff'])}, 95% CI [{_pp(d['ci_low'])}, {_pp(d['ci_high'])}], p = {d['p_value']:.2g}, "
                f"Holm p = {d.get('p_holm', d['p_value']):.2g})"
                + ("" if dk is None else f" and pass@{kmax} by {_pp(dk['mean_diff'])} (p = {dk['p_value']:.2g})")
            )
        if reproduced is None:
            reproduced = all(gains)
            status = "reproduced" if reproduced else "not reproduced"
    for other in ("in_range", "hard"):
        others = [r for r in rows if r["band"] == other and corr in r]
        if not others:
            continue
        descr = []
        for r in others:
            d = r[corr]["diff_pass@1"]
            sig = d.get("p_holm", d["p_value"]) < 0.05
            at_chance = " (the base is at chance here: nothing to amplify)" if r[corr]["base_at_chance"] else ""
            descr.append(f"op {r['bucket']} {_pp(d['mean_diff'])}{' (significant)' if sig else ''}{at_chance}")
        parts.append(f"{BAND_LABEL[other]}: " + "; ".join(descr))
    outcome = {
        "reproduced": "The lab reproduces the claim.",
        "partly": f"The lab reproduces the claim in direction, not in size: pass@1 and pass@{kmax} both rise "
        f"significantly, pass@1 by less than the {100 * config.min_gain:.0f} pp the recipe asks for.",
        "not reproduced": "The lab does not reproduce the claim.",
        None: "",
    }
    text = (
        ("Verdict: " + "; ".join(parts) + ". " + outcome[status]).strip()
        if parts
        else "Verdict: no bucket was compared."
    )
    return {
        "text": text,
        "reproduced": reproduced,
        "status": status,
        "correctness": corr,
        "min_gain": config.min_gain,
        "alpha": config.alpha,
    }


def report_bands(config: ReportStepConfig) -> dict[str, str]:
    """The band of each bucket: from ``bands_from`` (an evaluation's classification), then ``bands`` by hand."""
    bands = dict(config.bands)
    if config.bands_from:
        classified = read_json(Path(config.bands_from) / "eval" / "summary.json", "eval summary").get("bands")
        if classified:
            bands = {b: r["band"] for b, r in classified["buckets"].items()} | bands
    return bands


def write_pipeline_report(root: Path, recipe: Any, config: ReportStepConfig, outputs: dict[str, Any]) -> Path:
    """Write ``root/report.md`` (+ ``root/plots``) and ``root/results.json``; return the report path."""
    assert config.baseline and config.candidate and config.compare  # checked by the config
    base, base_records = load_run(config.baseline)
    cand, cand_records = load_run(config.candidate)
    compare = read_json(Path(config.compare) / "compare.json", "comparison")
    bands = report_bands(config)
    rows = comparison_rows(base, cand, compare, bands)
    ks = sorted(int(k) for k in compare.get("k", [1]))
    corr = "process" if any("process" in r for r in rows) else "outcome"
    band = pooled_band(base_records, cand_records, bands, config.headline_band, ks[-1], process=corr == "process")
    judged = verdict(rows, config, band)
    shapes = shape_finding(
        config.baseline, config.candidate, bands, config.headline_band, process=corr == "process", alpha=config.alpha
    )
    plots = root / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    lines = [f"# {config.title or recipe.name}", "", judged["text"], ""]
    if config.claim:
        lines += [f"The claim tested: {config.claim}", ""]
    ecfg = base["record"]["config"]
    dec = ecfg["decoding"]
    lines += [
        "## Base vs RL",
        "",
        f"{ecfg['problems_per_bucket']} held-out problems per op x {ecfg['seeds']} seeds x {ecfg['samples_per_seed']} "
        f"samples, temperature {dec['temperature']}, max {dec['max_new_tokens']} new tokens. CIs: percentile bootstrap "
        "over problems (pass@k), paired t-interval (differences); p: two-sided sign-flip permutation test on "
        "per-problem differences, Holm-corrected over the ops tested. Chance: pass@k of guessing among the "
        "answers (0 for process-verified correctness, which guessing cannot reach).",
        "",
    ]
    for corr in CORRECTNESS:
        if any(corr in r for r in rows):
            plot_band_pass_at_k(base, cand, rows, corr, plots / f"pass_at_k_{corr}.png")
            lines += [
                f"### {LABEL[corr].capitalize()} correctness",
                "",
                rows_table(rows, corr),
                "",
                f"![pass@k by op, {LABEL[corr]}](plots/pass_at_k_{corr}.png)",
                "",
            ]
    cmp_plot = Path(config.compare) / "plots" / "pass_at_k_by_bucket.png"
    if cmp_plot.is_file():
        shutil.copyfile(cmp_plot, plots / "pass_at_k_by_bucket.png")
    findings = _findings(base_records, cand_records, ks)
    lines += findings_section(findings)
    lines += shape_section(shapes)
    lines += _training_sections(root, config, outputs, plots)
    report = root / "report.md"
    atomic_write_text(report, "\n".join(lines))
    rl_summary = _read_optional(Path(config.rl) / "summary.json") if config.rl else None
    results = {
        "verdict": judged,
        "claim": config.claim,
        "rows": rows,
        "bands": bands,
        "findings": findings,
        "shapes": shapes,
        "headline_band": band,
        "rl": rl_summary,
    }
    machine = _read_optional(root / "machine.json")
    if machine:
        results["machine"] = machine
    atomic_write_text(root / "results.json", json.dumps(results, indent=1, default=str))
    return report


def pooled_band(
    base: list[dict[str, Any]],
    cand: list[dict[str, Any]],
    bands: dict[str, str],
    headline: str,
    k: int,
    *,
    process: bool,
) -> dict[str, Any] | None:
    """The ``headline`` band's problems pooled: RL - base pass@1 and pass@k per problem from the two runs'
    sample records, sign-flip tested (:func:`reasonlab.report.arms_data.band_effect`); None when no bucket
    is in the band."""
    buckets = [b for b, band in bands.items() if band == headline]
    if not buckets:
        return None
    out: dict[str, Any] = {"buckets": buckets, "correctness": "process" if process else "outcome"}
    for kk in sorted({1, k}):
        pooled = band_effect({"0": cand}, base, buckets, kk, process=process)["pooled"]
        if pooled is not None:
            out[f"pass@{kk}"] = pooled
    return out


def _findings(base: list[dict[str, Any]], cand: list[dict[str, Any]], ks: list[int]) -> dict[str, Any]:
    """Length vs correctness of both models and RL's delta@k (diversity), from their sample records."""
    out: dict[str, Any] = {"length": {"base": length_finding(base), "rl": length_finding(cand)}, "diversity": {}}
    for corr in CORRECTNESS:
        if all(r.get("process_ok") is not None for r in base + cand) or corr == "outcome":
            out["diversity"][corr] = diversity_finding(base, cand, ks, process=corr == "process")
    return out


def findings_section(findings: dict[str, Any]) -> list[str]:
    """Markdown: are longer responses more often wrong, and does RL collapse diversity?"""
    lines = ["## Length and diversity", ""]
    for who, f in findings["length"].items():
        for part in ("all", "complete"):
            g = f[part]
            if g["within_problem_gap"] is None:
                lines.append(f"- {who}, {part} responses: no problem has both right and wrong samples.")
                continue
            ci = g["within_problem_ci"]
            verdict = (
                "longer responses are more often wrong"
                if g["longer_is_wrong"]
                else "longer responses are more often right"
                if g["longer_is_right"]
                else "no length difference beyond noise"
            )
            lines.append(
                f"- {who}, {part} responses: wrong ones are {g['within_problem_gap']:+.1f} tokens longer than right "
                f"ones on the same problem (95% CI [{ci[0]:+.1f}, {ci[1]:+.1f}], {g['problems_with_both']} problems; "
                f"pooled {g['pooled_gap']:+.1f}): {verdict}."
            )
    for corr, d in findings["diversity"].items():
        deltas = ", ".join(f"delta@{k} {v['mean_diff']:+.3f} (p {v['p_value']:.2g})" for k, v in d["delta@k"].items())
        lines.append(
            f"- diversity ({LABEL[corr]}): {deltas}; collapse (delta@1 > 0, delta@k_max < 0): "
            f"{'yes' if d['collapse'] else 'no'}."
        )
    return [*lines, ""]


def _read_optional(path: Path) -> dict[str, Any] | None:
    return read_json(path, path.name) if path.is_file() else None


def _training_sections(root: Path, config: ReportStepConfig, outputs: dict[str, Any], plots: Path) -> list[str]:
    """Steps and their wall times, the pre-training summary and the RL curve."""
    lines: list[str] = []
    seconds = {}
    for name, out in outputs.items():
        done = Path(out.get("run", root / name)) / "step_done.json"
        if done.is_file():
            seconds[name] = read_json(done, "step record")["seconds"]
    machine = _read_optional(root / "machine.json")
    if seconds:
        lines += ["## Steps", ""]
        if machine:
            lines += [
                f"Machine: {machine['cpu']}, {machine['threads']} threads, fp32 matmul peak "
                f"{machine['matmul_peak_gflops']:.0f} GFLOP/s (measured at the start of the run).",
                "",
            ]
        lines += ["| step | seconds |", "|---|---|", *[f"| {k} | {v:.0f} |" for k, v in seconds.items()], "", ""]
    if config.pretrain:
        s = _read_optional(Path(config.pretrain) / "summary.json")
        if s:
            lines += [
                "## Pre-training",
                "",
                f"{s.get('num_params', 0):,} parameters, {s.get('steps')} steps, {s.get('tokens_total', 0):,} tokens, "
                f"{s.get('flops_total', 0):.3g} FLOPs, final loss {s.get('final_loss', float('nan')):.4f}.",
                "",
            ]
    if config.rl:
        rl_dir = Path(config.rl)
        metrics = RunDir(rl_dir).read_metrics()
        if metrics:
            plot_rl_curve(metrics, plots / "rl_curve.png")
        rl = _read_optional(rl_dir / "summary.json")
        if rl:
            t = rl["totals"]
            lines += [
                "## RL",
                "",
                f"{rl['steps']} steps ({rl['stop_reason']}), {t['prompts']} prompts, {t['rollouts']} rollouts, "
                f"{t['generated_tokens']:,} generated tokens, {rl['flops_total']:.3g} FLOPs, {rl['seconds']:.0f}s.",
                "",
                "![RL training curve](plots/rl_curve.png)",
                "",
            ]
    return lines
