"""The report of an ``arms`` step (arms x RL seeds from one base): the verdict against the study's claim first
(:mod:`reasonlab.report.arms_studies`: edge of competence, mid-training vs RL, process rewards, RL algorithms,
curricula), then per band each arm's pass@1 / pass@k (mean +- std over seeds) with the paired effect against
the base and against the reference arm, the hacking rate and its failure kinds, the cost of each arm, the
training curves, and per op the base and RL numbers (:func:`arms_rows`) with the per-op figure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reasonlab.eval.stats import bucket_order
from reasonlab.io import atomic_write_text, read_json
from reasonlab.report.arms_data import (
    band_effect,
    band_map,
    base_band_value,
    hacking_by_band,
    length_and_words,
    load_arms,
    mean_std,
    reward_rules,
    training_by_arm,
)
from reasonlab.report.arms_studies import STUDIES, judge
from reasonlab.report.pipeline import BAND_LABEL, LABEL, comparison_rows
from reasonlab.report.plots import plot_arm_bands, plot_arm_curves, plot_arms
from reasonlab.report.shapes import arms_shape_lines, shape_finding
from reasonlab.train.rl.metrics import REFLECTION_WORDS

__all__ = [
    "arms_rows",
    "band_table",
    "bucket_label",
    "hacking_cells",
    "length_words_lines",
    "measure",
    "reward_rules_lines",
    "write_arms_report",
]


def arms_rows(arms: dict[str, Any], bands: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Per arm, one row per op: base pass@1/@k, RL mean +- std over seeds, effects, share significant."""
    base = read_json(Path(arms["baseline"]) / "eval" / "summary.json", "eval summary")
    out: dict[str, list[dict[str, Any]]] = {}
    for arm, seeds in arms["arms"].items():
        per_seed = {}
        for seed, rec in seeds.items():
            cand = read_json(Path(rec["eval"]) / "eval" / "summary.json", "eval summary")
            cmp_ = read_json(Path(rec["compare"]) / "compare.json", "comparison")
            per_seed[seed] = {r["bucket"]: r for r in comparison_rows(base, cand, cmp_, bands)}
        rows = []
        for bucket in next(iter(per_seed.values())):
            first = next(iter(per_seed.values()))[bucket]
            row: dict[str, Any] = {"bucket": bucket, "band": first["band"], "k": first["k"]}
            kmax = str(first["k"][-1])
            for corr in ("process", "outcome"):
                if corr not in first:
                    continue
                seeds_rows = [s[bucket][corr] for s in per_seed.values()]
                row[corr] = {
                    "base_pass@1": first[corr]["base"]["1"]["mean"],
                    f"base_pass@{kmax}": first[corr]["base"][kmax]["mean"],
                    "rl_pass@1": mean_std([r["rl"]["1"]["mean"] for r in seeds_rows]),
                    f"rl_pass@{kmax}": mean_std([r["rl"][kmax]["mean"] for r in seeds_rows]),
                    "diff_pass@1": mean_std([r["diff_pass@1"]["mean_diff"] for r in seeds_rows]),
                    f"diff_pass@{kmax}": mean_std(
                        [r["delta@k"][kmax]["mean_diff"] for r in seeds_rows if kmax in r["delta@k"]]
                    ),
                    "significant_seeds": sum(
                        r["diff_pass@1"].get("p_holm", r["diff_pass@1"]["p_value"]) < 0.05 for r in seeds_rows
                    ),
                    "seeds": len(seeds_rows),
                    "pass@k_curve": {
                        k: {
                            "base": first[corr]["base"][k]["mean"],
                            "rl": mean_std([r["rl"][k]["mean"] for r in seeds_rows]),
                        }
                        for k in first[corr]["base"]
                    },
                }
            rows.append(row)
        out[arm] = rows
    return out


def measure(arms: dict[str, Any], bands: dict[str, str], n_perm: int = 10000) -> dict[str, Any]:
    """Every number the arms report states (see :mod:`reasonlab.report.arms_data`), by arm and band."""
    data = load_arms(arms)
    corr = "process" if data.process else "outcome"
    buckets = bucket_order([r["bucket"] for r in data.base])
    by_band = band_map(buckets, bands)
    keys = {"pass@1": 1, f"pass@{data.kmax}": data.kmax}
    corrs = [c for c in ("process", "outcome") if c == "outcome" or data.process]
    effects: dict[str, Any] = {}
    vs_ref: dict[str, Any] = {}
    ref = arms.get("reference")
    for arm, per_seed in data.records.items():
        for band, bs in by_band.items():
            for c in corrs:
                for key, k in keys.items():
                    eff = band_effect(per_seed, data.base, bs, k, process=c == "process", n_perm=n_perm)
                    effects.setdefault(arm, {}).setdefault(band, {}).setdefault(c, {})[key] = eff
                    if ref is not None and arm != ref:
                        eff = band_effect(per_seed, data.records[ref], bs, k, process=c == "process", n_perm=n_perm)
                        vs_ref.setdefault(arm, {}).setdefault(band, {}).setdefault(c, {})[key] = eff
    base = {
        band: {
            c: {key: base_band_value(data.base, bs, k, process=c == "process") for key, k in keys.items()}
            for c in corrs
        }
        for band, bs in by_band.items()
    }
    training = training_by_arm(arms)
    for t in training.values():
        t["seconds_per_step"] = mean_std([r["seconds_per_step"] for r in t["cost"] if "seconds_per_step" in r])
    return {
        "corr": corr,
        "kmax": data.kmax,
        "n_seeds": len(data.seeds),
        "bands": by_band,
        "base": base,
        "effects": effects,
        "reference": ref,
        "vs_reference": vs_ref or None,
        "hacking": {arm: hacking_by_band(per_seed, by_band) for arm, per_seed in data.records.items()}
        if data.process
        else {},
        "training": training,
        "length_words": length_and_words(training),
        "shares": {
            arm: next(iter(seeds.values())).get("midtrain_share") for arm, seeds in arms["arms"].items() if seeds
        },
    }


def _ms_cell(block: dict[str, Any] | None, pp: bool = False) -> str:
    if not block or block.get("mean") is None:
        return "-"
    return _fmt(block, pp=pp)


def _effect_cell(eff: dict[str, Any]) -> str:
    p = (eff.get("pooled") or {}).get("p_value")
    return _ms_cell(eff["diff"], pp=True) + ("" if p is None else f" (p {p:.3g})")


def _band_tables(m: dict[str, Any]) -> list[str]:
    return [
        f"## By band ({LABEL[m['corr']]} correctness)",
        "",
        "Mean +- std over RL seeds of the band's mean over problems; differences are paired per problem (pooled "
        "p: sign-flip test over problems of the seed-averaged difference). Base: the model every arm starts from.",
        "",
        *band_table(m),
        "",
    ]


def band_table(m: dict[str, Any]) -> list[str]:
    """Markdown table of :func:`measure` by band: the base, then every arm's pass@1 and pass@k (mean +- std over
    seeds) with the paired effect against the base (pooled p) and, when there is one, the reference arm."""
    corr, kmax = m["corr"], m["kmax"]
    kk = f"pass@{kmax}"
    lines = [
        f"| arm | band | pass@1 | vs base | {kk} | vs base |"
        + (f" vs {m['reference']} pass@1 | vs {m['reference']} {kk} |" if m["vs_reference"] else ""),
        "|" + "---|" * (6 + (2 if m["vs_reference"] else 0)),
    ]
    for band in m["bands"]:
        base = m["base"][band][corr]
        if base["pass@1"] is not None:
            lines.append(
                f"| base | {BAND_LABEL.get(band, band)} | {base['pass@1']:.3f} | | {base[kk]:.3f} | |"
                + (" | |" if m["vs_reference"] else "")
            )
        for arm, per_band in m["effects"].items():
            e = per_band[band][corr]
            cells = [
                arm,
                BAND_LABEL.get(band, band),
                _ms_cell(e["pass@1"]["value"]),
                _effect_cell(e["pass@1"]),
                _ms_cell(e[kk]["value"]),
                _effect_cell(e[kk]),
            ]
            if m["vs_reference"]:
                r = (m["vs_reference"].get(arm) or {}).get(band, {}).get(corr)
                cells += [_effect_cell(r["pass@1"]), _effect_cell(r[kk])] if r else ["(reference)", ""]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def _hacking_table(m: dict[str, Any]) -> list[str]:
    if not m["hacking"]:
        return []
    lines = [
        "## Reward hacking",
        "",
        "Hacking rate: the share of samples whose answer is right but whose chain fails the process check "
        "(mean +- std over seeds); the failure kinds of those samples as shares of all samples.",
        "",
        "| arm | band | hacking rate | hacked samples by failure kind |",
        "|---|---|---|---|",
    ]
    for arm, per_band in m["hacking"].items():
        for band, h in per_band.items():
            lines.append(f"| {arm} | {BAND_LABEL.get(band, band)} | {hacking_cells(h)} |")
    return [*lines, ""]


def hacking_cells(h: dict[str, Any]) -> str:
    """The two table cells of one band's hacking record (:func:`hacking_by_band`): the rate in % as mean +- std
    over seeds, and the hacked samples' failure kinds as shares of all process-checked samples."""
    rate = h["rate"]
    std = "" if rate["std"] is None else f" +- {100 * rate['std']:.1f}"
    kinds = ", ".join(f"{k} {100 * v:.1f}%" for k, v in h["by_kind"].items()) or "-"
    return f"{100 * rate['mean']:.1f}%{std} | {kinds}"


def _cost_table(m: dict[str, Any]) -> list[str]:
    lines = [
        "## Cost",
        "",
        "| arm | seed | mid-training steps | mid-training FLOPs | RL steps | RL FLOPs | rollouts | generated tokens | "
        "seconds (mid + RL) | s / RL step |",
        "|" + "---|" * 10,
    ]
    for arm, t in m["training"].items():
        for r in t["cost"]:
            secs = r.get("mid_seconds", 0.0) + r.get("rl_seconds", 0.0)
            lines.append(
                f"| {arm} | {r['seed']} | {r.get('mid_steps', '-')} | "
                + (f"{r['mid_flops']:.3g}" if "mid_flops" in r else "-")
                + f" | {r.get('rl_steps', '-')} | "
                + (f"{r['rl_flops']:.3g}" if "rl_flops" in r else "-")
                + f" | {r.get('rollouts', '-')} | "
                + (f"{r['generated_tokens']:,}" if "generated_tokens" in r else "-")
                + f" | {secs:.0f} | "
                + (f"{r['seconds_per_step']:.1f}" if "seconds_per_step" in r else "-")
                + " |"
            )
    return [*lines, ""]


def bucket_label(summary: dict[str, Any]) -> str:
    """What an evaluation's buckets count, for table headers and axes: ``op`` for the arith ``ops`` knob,
    otherwise the knob's name (``people`` for Knights & Knaves)."""
    knob = str(summary["record"]["config"]["buckets"]["knob"])
    return "op" if knob == "ops" else knob


def _per_op_tables(per_arm: dict[str, list[dict[str, Any]]], label: str = "op") -> list[str]:
    lines: list[str] = []
    for c in ("process", "outcome"):
        if not any(c in r for rows in per_arm.values() for r in rows):
            continue
        lines += [f"## Per {label}, {LABEL[c]} correctness", "", f"![per {label}](plots/arms_{c}.png)", ""]
        for arm, rows in per_arm.items():
            kmax = str(rows[0]["k"][-1]) if rows else "1"
            lines += [
                f"### {arm.replace('_', ' ')}",
                "",
                f"| {label} | band | base pass@1 | RL pass@1 | RL - base pass@1 | significant seeds | "
                f"base pass@{kmax} | RL pass@{kmax} | RL - base pass@{kmax} |",
                "|" + "---|" * 9,
            ]
            for r in rows:
                x = r[c]
                cells = [
                    r["bucket"],
                    BAND_LABEL.get(r["band"], r["band"]),
                    f"{x['base_pass@1']:.3f}",
                    _fmt(x["rl_pass@1"]),
                    _fmt(x["diff_pass@1"], pp=True),
                    f"{x['significant_seeds']}/{x['seeds']}",
                    f"{x[f'base_pass@{kmax}']:.3f}",
                    _fmt(x[f"rl_pass@{kmax}"]),
                    _fmt(x[f"diff_pass@{kmax}"], pp=True),
                ]
                lines.append("| " + " | ".join(cells) + " |")
            lines.append("")
    return [
        *lines,
        f"Per {label}: mean +- std over RL seeds of the paired per-problem difference; significant seeds: "
        f"Holm-corrected p < 0.05 over the buckets of the table.",
        "",
    ]


def _num(x: float | None, fmt: str = ".0f") -> str:
    return "-" if x is None else format(x, fmt)


def length_words_lines(lw: dict[str, Any]) -> list[str]:
    """Markdown of :func:`reasonlab.report.arms_data.length_and_words`: per arm the mean length of all, right and
    wrong rollouts early -> late in RL, then the reflection words some rollout wrote (share of rollouts, reward
    with - without), or the sentence that none did."""
    lines = [
        "## Length and reflection words",
        "",
        "Is longer better (Logic-RL)? Mean response length in tokens of the rollouts, right and wrong, over the "
        "first -> the last third of RL steps (mean over seeds).",
        "",
        "| arm | all | right | wrong |",
        "|---|---|---|---|",
    ]
    for arm, rec in lw.items():
        cells = [" -> ".join(_num(x) for x in rec["length"][k]) for k in ("all", "right", "wrong")]
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    used = {arm: rec["words"] for arm, rec in lw.items() if any(w["freq"] > 0 for w in rec["words"].values())}
    lines.append("")
    if not used:
        lines += [
            f"No rollout of any arm wrote a reflection word ({', '.join(REFLECTION_WORDS)}): the words a model "
            "can use are the ones its training text holds, so the word analysis has nothing to measure here.",
            "",
        ]
        return lines
    lines += [
        "Reflection words: share of rollouts that use the word and their mean reward minus that of the rollouts "
        "without it (means over RL steps and seeds).",
        "",
        "| arm | word | share of rollouts | reward with - without |",
        "|---|---|---|---|",
    ]
    for arm, words in used.items():
        for w, rec in words.items():
            if rec["freq"] > 0:
                lines.append(f"| {arm} | {w} | {rec['freq']:.3f} | {_num(rec['reward_gap'], '+.3f')} |")
    return [*lines, ""]


def reward_rules_lines(rr: dict[str, Any], rules: list[str]) -> list[str]:
    """Markdown of :func:`reasonlab.report.arms_data.reward_rules`: per model (the base, then each arm) the mean
    reward under each rule, the share of samples the later rules score differently, and why."""
    first, rest = rules[0], rules[1:]
    lines = [
        "## Reward rules",
        "",
        f"Every evaluation sample scored under {', '.join(rules)}: the mean reward (arms: mean +- std over seeds), "
        f"the share of samples a rule scores differently from {first}, and the verifier's reason for those samples "
        "(share of all samples).",
        "",
        "| model | "
        + " | ".join(f"mean reward, {r}" for r in rules)
        + " | "
        + " | ".join(f"scored differently by {r}" for r in rest)
        + " | why |",
        "|" + "---|" * (2 + len(rules) + len(rest)),
    ]

    def share(ms: dict[str, Any]) -> str:
        return f"{100 * ms['mean']:.1f}%" + ("" if ms["std"] is None else f" +- {100 * ms['std']:.1f}")

    for model, rec in rr.items():
        why = "; ".join(f"{k} {100 * v:.1f}%" for rule in rest for k, v in list(rec["reasons"][rule].items())[:3])
        cells = [_ms_cell(rec["mean"][r]) for r in rules] + [share(rec["differs"][r]) for r in rest]
        lines.append(f"| {model} | " + " | ".join(cells) + f" | {why or '-'} |")
    return [*lines, ""]


def write_arms_report(
    root: Path,
    recipe: Any,
    title: str | None,
    arms_path: Path,
    bands: dict[str, str],
    study: str = "edge",
    rules: list[str] | None = None,
) -> Path:
    """Write ``root/report.md``, ``root/results.json`` and ``root/plots/arms_*.png`` for an ``arms`` step;
    ``rules`` (two or more reward schemes) adds the reward-rule comparison of every evaluation's samples."""
    arms = read_json(arms_path, "arms record")
    m = measure(arms, bands)
    if rules:
        m["reward_rules"] = {"rules": rules, "models": reward_rules(arms, rules)}
    per_arm = arms_rows(arms, bands)
    label = bucket_label(read_json(Path(arms["baseline"]) / "eval" / "summary.json", "eval summary"))
    verdict = judge(study, m)
    plots = root / "plots"
    xs = None
    if study == "midtrain_vs_rl":
        xs = {a: float(s or 0.0) for a, s in m["shares"].items()}
    plot_arm_bands(m, plots / "arms_bands.png", xs, "mid-training share of the compute" if xs else "")
    plot_arm_curves(
        m["training"],
        ("critic/score/mean", "acc/process", "reward/hacked_frac", "response_length/mean"),
        plots / "arms_training.png",
    )
    for c in ("process", "outcome"):
        # arms named after the bands they train on read "RL on the edge ops"; other arms by their name
        panel = "RL on the {arm} ops" if study == "edge" else "{arm}"
        plot_arms(per_arm, c, plots / f"arms_{c}.png", title=panel, xlabel=label)
    lines = [
        f"# {title or recipe.name}",
        "",
        verdict["text"],
        "",
        f"Claim tested: {STUDIES[study].claim}",
        "",
        "![by band](plots/arms_bands.png)",
        "",
        *_band_tables(m),
        *_hacking_table(m),
        *_cost_table(m),
    ]
    if (plots / "arms_training.png").is_file():
        lines += [
            "## Training",
            "",
            "Mean over each arm's seeds at each RL step.",
            "",
            "![training](plots/arms_training.png)",
            "",
        ]
    lines += length_words_lines(m["length_words"])
    if rules:
        lines += reward_rules_lines(m["reward_rules"]["models"], rules)
    shapes = {
        arm: {
            seed: shape_finding(arms["baseline"], unit["eval"], bands, "edge", process=True, alpha=0.01)
            for seed, unit in by_seed.items()
        }
        for arm, by_seed in arms["arms"].items()
    }
    lines += arms_shape_lines(shapes)
    lines += _per_op_tables(per_arm, label)
    report = root / "report.md"
    atomic_write_text(report, "\n".join(lines) + "\n")
    results = {"verdict": verdict, "measured": m, "arms": per_arm, "bands": bands, "runs": arms["arms"]}
    results["shapes"] = shapes
    atomic_write_text(root / "results.json", json.dumps(results, indent=1, default=str))
    return report


def _fmt(ms: dict[str, float | None], pp: bool = False) -> str:
    if ms["mean"] is None:
        return "-"
    if pp:
        std = "" if ms["std"] is None else f" +- {100 * ms['std']:.1f}"
        return f"{100 * ms['mean']:+.1f}{std} pp"
    std = "" if ms["std"] is None else f" +- {ms['std']:.3f}"
    return f"{ms['mean']:.3f}{std}"
