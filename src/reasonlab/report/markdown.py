"""Markdown reports: one evaluation run (``report.md`` + ``plots/``) and a paired comparison of two runs."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reasonlab.eval import analyses as A
from reasonlab.eval.record import load_run
from reasonlab.io import atomic_write_text
from reasonlab.report import plots as P


def _f(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _blk(b: Mapping[str, Any] | None) -> str:
    """``mean +- SE [lo, hi]`` of a statistics block."""
    if b is None:
        return "-"
    return f"{b['mean']:.3f} +- {b['se']:.3f} [{b['ci'][0]:.3f}, {b['ci'][1]:.3f}]"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def render_report(summary: Mapping[str, Any], analyses: Mapping[str, Any], plots: list[str]) -> str:
    """The markdown text of one evaluation run's report (plots are linked by relative path)."""
    rec = summary["record"]
    cfg = rec["config"]
    dec = cfg["decoding"]
    tm = summary["timing"]
    git = rec.get("git") or {}
    ov = summary["overall"]
    ks = list(ov["outcome"]["pass@k"])
    lines = [
        f"# Evaluation: {summary.get('name', 'eval')}",
        "",
        "## Setup",
        "",
        f"- model: `{rec.get('model_path')}` ({rec.get('model_params', 0):,} parameters, {rec.get('dtype')})",
        f"- task: `{cfg['task']}`, buckets over `{cfg['buckets']['knob']}` = {cfg['buckets']['values']}, "
        f"fixed knobs {cfg['fixed'] or '{}'}",
        f"- {cfg['problems_per_bucket']} problems per bucket x {cfg['seeds']} seeds x {cfg['samples_per_seed']} "
        f"samples per seed = {ov['n_samples']} samples",
        f"- decoding: temperature {dec['temperature']}, top_p {dec['top_p']}, top_k {dec['top_k']}, "
        f"max_new_tokens {dec['max_new_tokens']}; prompt `{rec['prompt_template']['id']}` "
        f"(render {rec['prompt_template']['render_hash']}, prompts {rec['prompt_template']['prompt_set_hash']}); "
        f"reward `{cfg['reward']}`",
        f"- held out: problem seeds in the `{rec['holdout']['namespace']}` namespace (>= 2^62); "
        f"training config checked: {rec['holdout'].get('training_config') or 'none found'}; "
        f"training prompts checked: {rec['holdout'].get('training_prompts_checked', 0):,}; "
        f"evaluation prompts dropped as overlapping: {rec['holdout']['dropped_overlapping']}",
        f"- device: {rec['device'].get('gpu') or rec['device']['cpu']} ({rec['device']['device']}, "
        f"{rec['device']['torch_threads']} threads); torch {rec['versions'].get('torch')}, "
        f"reasonlab {rec['versions'].get('reasonlab')}, git {git.get('commit', 'n/a')[:10]}"
        f"{' (dirty)' if git.get('dirty') else ''}",
        f"- time: {tm['wall_s']:.1f} s ({tm['generate_s']:.1f} s sampling, {tm['score_s']:.1f} s verifying); "
        f"{tm['generated_tokens']:,} tokens generated, {tm['tokens_per_s']:.0f} tokens/s, "
        f"{tm['samples_per_s']:.1f} samples/s"
        + (
            f"; {tm['prompts_over_context']} prompts do not fit the model's context (scored as empty, truncated)"
            if tm.get("prompts_over_context")
            else ""
        ),
        "",
        "## Overall",
        "",
    ]
    rows = []
    for k in ks:
        o = ov["outcome"]
        p = ov["process"]
        rows.append(
            [
                k,
                _blk(o["pass@k"][k]),
                _blk(o["maj@k"].get(k)),
                _blk(p["pass@k"][k]) if p else "-",
                _blk(p["maj@k"].get(k)) if p else "-",
            ]
        )
    lines += _table(["k", "pass@k", "maj@k", "process pass@k", "process maj@k"], rows)
    band = ov["outcome"]["pass@1_seeds"]
    lines += [
        "",
        f"pass@1 across {len(band['per_seed'])} seeds: {band['mean']:.3f} +- {band['std']:.3f} (std, ddof=1; "
        f"range {band['min']:.3f}-{band['max']:.3f}). Truncation rate {ov['truncation_rate']:.1%}, "
        f"unparseable rate {ov['unparseable_rate']:.1%}, mean length {ov['mean_length']:.1f} tokens.",
        "",
        "Cells are mean over problems +- SE over problems [95% percentile bootstrap CI].",
        "",
        "## Per bucket",
        "",
    ]
    kmax = ks[-1]
    rows = []
    for b, s in summary["buckets"].items():
        o = s["outcome"]
        sb = o["pass@1_seeds"]
        row = [
            b,
            _blk(o["pass@k"]["1"]),
            f"{sb['mean']:.3f} +- {sb['std']:.3f}",
            _f(o["pass@k"].get(kmax, {}).get("mean")),
            _f(o["maj@k"].get(kmax, {}).get("mean")),
            _f(s["process"]["pass@k"]["1"]["mean"]) if s["process"] else "-",
            f"{s['truncation_rate']:.1%}",
            f"{s['unparseable_rate']:.1%}",
        ]
        if "clustered_se" in o["pass@k"]["1"]:
            row.append(_f(o["pass@k"]["1"]["clustered_se"]))
        rows.append(row)
    header = [
        cfg["buckets"]["knob"],
        "pass@1 +- SE [CI]",
        "seeds mean +- std",
        f"pass@{kmax}",
        f"maj@{kmax}",
        "process pass@1",
        "truncated",
        "unparseable",
    ]
    if rows and len(rows[0]) > len(header):
        header.append("clustered SE")
    lines += _table(header, rows)
    lc = analyses["length"]
    lines += [
        "",
        "## Length vs correctness",
        "",
        f"Mean length of correct responses {_f(lc['mean_length_correct'], 1)} tokens, of wrong ones "
        f"{_f(lc['mean_length_wrong'], 1)}; among complete responses {_f(lc['mean_length_correct_complete'], 1)} "
        f"vs {_f(lc['mean_length_wrong_complete'], 1)}. Truncation rate {lc['truncation_rate']:.1%}.",
        "",
        "## Reasoning words",
        "",
    ]
    rows = [
        [
            f"`{r['word']}`",
            _f(r["rate_correct"]),
            _f(r["rate_wrong"]),
            f"{r['share_with']:.1%}",
            _f(r["acc_with"]),
            _f(r["acc_without"]),
        ]
        for r in analyses["words"]
        if r["share_with"] > 0
    ]
    if rows:
        lines += _table(
            ["word", "per correct resp.", "per wrong resp.", "responses with it", "acc with", "acc without"], rows
        )
    else:
        lines.append("None of the tracked reasoning words occur in the responses.")
    lines += ["", "## Seed-count stability", ""]
    lines += _table(
        ["seeds averaged K", "std of mean pass@1 (resampled)", "sd/sqrt(K)"],
        [[str(r["k"]), _f(r["std_of_mean"], 4), _f(r["analytic_std"], 4)] for r in analyses["stability"]],
    )
    lines += ["", "## Plots", ""]
    lines += [f"![{Path(p).stem}]({p})" for p in plots]
    lines += ["", "## Conventions", ""]
    lines += [f"- {k}: {v}" for k, v in summary.get("conventions", {}).items() if v]
    return "\n".join(lines) + "\n"


def write_report(run_dir: str | os.PathLike[str], others: Sequence[str | os.PathLike[str]] = ()) -> Path:
    """Compute the analyses of an evaluation run dir, draw its plots and write ``report.md``.

    ``others`` are further evaluation run dirs drawn with this one on ``plots/pass_at_k_models.png``.
    """
    d = Path(run_dir)
    summary, records = load_run(d)
    seed = int(summary["record"]["config"].get("seed", 0))
    res: dict[str, Any] = {
        "length": A.length_vs_correctness(records),
        "words": A.reasoning_words(records),
        "stability": A.seed_stability_curve(records, seed=seed),
    }
    plots_dir = d / "plots"
    P.plot_pass_at_k_by_bucket({summary.get("name", "model"): summary}, plots_dir / "pass_at_k_by_bucket.png")
    P.plot_seed_spread(summary, plots_dir / "seed_spread.png")
    P.plot_length_vs_correctness(res["length"], plots_dir / "length_vs_correctness.png")
    P.plot_seed_stability(res["stability"], plots_dir / "seed_stability.png")
    P.plot_reasoning_words(res["words"], plots_dir / "reasoning_words.png")
    names = ["pass_at_k_by_bucket", "seed_spread", "length_vs_correctness", "seed_stability", "reasoning_words"]
    if others:
        models = {summary.get("name", "model"): summary}
        for o in others:
            s_o, _ = load_run(o)
            label = s_o.get("name", Path(o).name)
            models[label if label not in models else f"{label} ({Path(o).name})"] = s_o
        P.plot_pass_at_k_by_bucket(models, plots_dir / "pass_at_k_models.png")
        names.insert(1, "pass_at_k_models")
    atomic_write_text(d / "eval" / "analyses.json", json.dumps(res, indent=2, allow_nan=False) + "\n")
    out = d / "report.md"
    atomic_write_text(out, render_report(summary, res, [f"plots/{n}.png" for n in names]))
    return out


def compare_markdown(result: Mapping[str, Any]) -> str:
    """Markdown of a paired comparison (:func:`reasonlab.eval.compare.compare_runs`)."""
    ov = result["overall"]
    base, cand = result["baseline"], result["candidate"]
    lines = [
        f"# Comparison: {cand['name']} (B) vs {base['name']} (A)",
        "",
        f"- A (baseline): `{base['run']}`; B (candidate): `{cand['run']}`; differences are B - A over "
        f"{ov['n_problems']} shared problems.",
    ]
    lines += [f"- warning: {w}" for w in result["warnings"]]
    lines += ["", "## pass@1, paired", ""]
    rows = []
    for label, r in [("overall", ov), *result["buckets"].items()]:
        p = r["paired"]
        band = r["baseline_seed_band"]
        inside = r["gain_inside_seed_band"]
        rows.append(
            [
                label,
                _f(r["baseline_pass@1"]),
                _f(r["candidate_pass@1"]),
                f"{p['mean_diff']:+.3f}",
                f"[{p['ci_low']:+.3f}, {p['ci_high']:+.3f}]",
                f"{p['p_value']:.4f}",
                f"{band['min']:.3f}-{band['max']:.3f}",
                "-" if inside is None else ("yes" if inside else "no"),
            ]
        )
    lines += _table(
        ["bucket", "A pass@1", "B pass@1", "B - A", "95% CI", "p (sign-flip)", "A seed band", "gain inside A's band"],
        rows,
    )
    lines += ["", "## delta@k (diversity check)", ""]
    rows = [
        [
            k,
            _f(d["base"]),
            _f(d["model"]),
            f"{d['mean_diff']:+.3f}",
            f"[{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]",
            f"{d['p_value']:.4f}",
        ]
        for k, d in ov["delta@k"].items()
    ]
    lines += _table(["k", "A pass@k", "B pass@k", "delta@k", "95% CI", "p"], rows)
    lines += [
        "",
        f"Diversity collapse (delta@1 > 0 but delta@k_max < 0): {'yes' if ov['diversity_collapse'] else 'no'}.",
        "",
        "![pass@k by bucket](plots/pass_at_k_by_bucket.png)",
        "",
        "## Conventions",
        "",
    ]
    lines += [f"- {k}: {v}" for k, v in result["conventions"].items()]
    return "\n".join(lines) + "\n"


def write_compare_report(result: Mapping[str, Any], out: str | os.PathLike[str]) -> Path:
    """Write ``out/compare.md`` and ``out/plots/pass_at_k_by_bucket.png`` (both models, with error bars)
    for a paired comparison (:func:`reasonlab.eval.compare.compare_runs`); return the markdown path."""
    od = Path(out)
    sa, _ = load_run(result["baseline"]["run"])
    sb, _ = load_run(result["candidate"]["run"])
    label_a = sa.get("name") or "A"
    label_b = sb.get("name") or "B"
    if label_a == label_b:
        label_a, label_b = f"A: {label_a}", f"B: {label_b}"
    P.plot_pass_at_k_by_bucket({label_a: sa, label_b: sb}, od / "plots" / "pass_at_k_by_bucket.png")
    path = od / "compare.md"
    atomic_write_text(path, compare_markdown(result))
    return path
