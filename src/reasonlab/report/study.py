"""The study report (``reasonlab report --study RUNS_DIR``): every recipe run under a folder on one page, the
page a user shows their advisor.

A recipe run is a directory with ``recipe.yaml`` (the first file ``reasonlab run`` writes). The page opens
with one table: per recipe, the verdict, the headline effect with its 95% CI, the p-value, the number of
training seeds, the wall time (the sum of the seconds its steps recorded), the machine (CPU and the fp32
matmul peak measured when the run started) and the command that reproduces it. One section per recipe
follows: the paper's claim, what the lab measured (the verdict line), its key table and its plots.

Everything is read from the JSON the runs wrote (``results.json``, ``seed_study.json``, ``machine.json``,
``step_done.json``), never from their markdown. The headline of each kind of result:

- a pipeline comparison (a ``report`` step over two evaluations): RL - base pass@1 (process-verified when
  verified, else answer) on each op of the report's headline band, with its paired t-interval over problems,
  the sign-flip p-value and its Holm correction over the ops;
- RL arms (a ``report`` step over an ``arms`` step): the comparison the study's claim rests on (the edge arm
  on the edge ops against the base; every arm against the reference arm on the claim's band, the edge when
  that band ranks no arm; or every arm against the base), mean +- std over RL seeds, with the paired t-interval
  and sign-flip p over problems pooled over seeds;
- a seed study (``run --seeds N``): the headline effect of every seed, mean +- std, the t-interval over seeds
  and each seed's pooled band p (older results: the largest Holm p over its headline ops);
- Reinforcement Pre-Training (``rpt_report``) and its seed study: RPT (reasoning) - the compute-matched
  control (standard) on the headline bucket;
- a memorisation test (a ``report`` over a ``memorisation`` step): final mean LiMem SFT - RL, paired by seed.

A run whose results are not there (a step unfinished, no report step, an older results file) is listed as
incomplete with what is missing; it never stops the page. Writes ``OUT/study.md`` (plots linked by relative
path), ``OUT/study.html`` (self-contained, plots inline as base64 PNG) and ``OUT/study.json``, atomically.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt

from reasonlab import __version__
from reasonlab.config import load_yaml
from reasonlab.errors import ReasonlabError
from reasonlab.io import atomic_write_text, read_json
from reasonlab.report.arms import band_table
from reasonlab.report.arms_studies import best_arm
from reasonlab.report.context_transfer import exposure_value
from reasonlab.report.memorisation import study_summary as memorisation_summary
from reasonlab.report.pipeline import BAND_LABEL, EDGE_CLAIM, LABEL, rows_table
from reasonlab.report.rpt import COMPARISONS, RPT_CLAIM, RPT_SCHEMA, table1_lines
from reasonlab.report.rpt_seeds import rpt_seed_verdict, seed_table1_lines
from reasonlab.report.seed_study import SCHEMA as SEED_SCHEMA
from reasonlab.report.seed_study import study_table, study_verdict

__all__ = ["Headline", "RecipeRun", "collect_runs", "read_run", "seed_ci", "study_markdown", "write_study_report"]

#: The band an arms study's claim rests on, where it compares arms with a reference arm.
ARMS_BAND = {"midtrain_vs_rl": "hard", "process_reward": "hard", "curriculum": "all"}
#: Step kinds that write a recipe's ``results.json``.
REPORT_KINDS = ("report", "rpt_report")
CSS = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}"
    "table{border-collapse:collapse;margin:1em 0;font-size:.88em}th,td{border:1px solid #ccc;padding:.3em .5em;"
    "vertical-align:top}th{background:#f3f3f3}img{max-width:100%}blockquote{margin:0;padding:.2em 1em;"
    "border-left:4px solid #888;background:#fafafa}code{background:#f3f3f3;padding:0 .2em}"
)


@dataclass(frozen=True)
class Headline:
    """One headline effect: what it measures, its mean, the 95% CI, the spread over seeds and the p-value."""

    what: str
    mean: float
    ci: tuple[float, float] | None
    std: float | None
    p: str


@dataclass
class RecipeRun:
    """What the page says about one recipe run; ``missing`` is non-empty for an incomplete run."""

    name: str
    root: Path
    command: str
    kind: str = "incomplete"
    title: str = ""
    claim: str | None = None
    verdict: str | None = None
    reproduced: str = "incomplete"
    headline: list[Headline] = field(default_factory=list)
    seeds: int | None = None
    wall_s: float | None = None
    machine: str | None = None
    table: list[str] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- statistics and formatting


def seed_ci(mean: float, std: float | None, n: int, ci: float = 0.95) -> tuple[float, float] | None:
    """t-interval of a mean over ``n`` training seeds: ``mean +- t_{n-1,(1+ci)/2} * std / sqrt(n)``
    (``std`` with ddof=1); None with fewer than two seeds."""
    if std is None or n < 2:
        return None
    from scipy import stats  # heavy (~0.3 s): imported only when a seed interval is computed

    half = float(stats.t.ppf((1 + ci) / 2, n - 1)) * std / math.sqrt(n)
    return mean - half, mean + half


def _pp(x: float) -> str:
    return f"{100 * x:+.1f} pp"


def effect_text(h: Headline) -> str:
    """``what: +12.5 +- 4.1 pp [95% CI +3.1, +21.9]`` (the spread only over seeds, the CI when there is one)."""
    spread = "" if h.std is None else f" +- {100 * h.std:.1f}"
    ci = "" if h.ci is None else f" [95% CI {100 * h.ci[0]:+.1f}, {100 * h.ci[1]:+.1f}]"
    return f"{h.what}: {100 * h.mean:+.1f}{spread} pp{ci}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    return f"{minutes:.0f} min" if minutes < 90 else f"{int(minutes // 60)} h {minutes % 60:02.0f} min"


def _yes_no(reproduced: bool | None) -> str:
    return {True: "reproduced", False: "not reproduced", None: "no headline test"}[reproduced]


def _p(d: dict[str, Any]) -> str:
    holm = f" (Holm {d['p_holm']:.2g})" if "p_holm" in d else ""
    return f"p = {d['p_value']:.2g}{holm}"


# ----------------------------------------------------------------------------- one run


def _seeds(root: Path, recipe: dict[str, Any]) -> list[int] | None:
    """The training seeds of a seed study (``seed_study.json``, else the recipe's, else ``seed-S`` dirs)."""
    if (root / "seed_study.json").is_file():
        return [int(s) for s in read_json(root / "seed_study.json", "seed study")["seeds"]]
    if recipe.get("seeds"):
        return [int(s) for s in recipe["seeds"]]  # else the seed-S directories
    found = sorted(int(m.group(1)) for p in root.glob("seed-*") if (m := re.fullmatch(r"seed-(\d+)", p.name)))
    return found or None


def _command(name: str, recipe: dict[str, Any], seeds: list[int] | None) -> str:
    """``reasonlab run recipes/NAME.yaml``, with ``--seeds N`` when the seeds came from the command line."""
    cmd, from_recipe = f"reasonlab run recipes/{name}.yaml", [int(s) for s in recipe.get("seeds") or []] == seeds
    return cmd if seeds is None or from_recipe else f"{cmd} --seeds {len(seeds)}"


def _steps(recipe: dict[str, Any]) -> list[dict[str, Any]]:
    steps = recipe.get("steps")
    return [s for s in steps if isinstance(s, dict) and "name" in s] if isinstance(steps, list) else []


def _missing(root: Path, recipe: dict[str, Any], seeds: list[int] | None) -> list[str]:
    """What a run lacks before its results can be read: unfinished steps, then the results file."""
    steps = _steps(recipe)
    out = []
    for d in [root / f"seed-{s}" for s in seeds] if seeds else [root]:
        undone = [s["name"] for s in steps if not (d / s["name"] / "step_done.json").is_file()]
        if undone:
            where = f"{d.name}: " if seeds else ""
            out.append(f"{where}steps not finished (still running, failed or killed): {', '.join(undone)}")
    if out:
        return out
    if seeds:
        return [] if (root / "seed_study.json").is_file() else ["seed_study.json (the seed study was not written)"]
    if (root / "results.json").is_file():
        return []
    no_report = steps and not any(s.get("kind") in REPORT_KINDS for s in steps)
    return ["results.json: the recipe has no report step" if no_report else "results.json"]


def _wall_seconds(root: Path, recipe: dict[str, Any], seeds: list[int] | None) -> float | None:
    """The sum of the seconds every finished step recorded (every seed's, in a seed study)."""
    total, found = 0.0, False
    for d in [root / f"seed-{s}" for s in seeds] if seeds else [root]:
        for step in _steps(recipe):
            done = d / step["name"] / "step_done.json"
            if done.is_file():
                total += float(read_json(done, "step record").get("seconds", 0.0))
                found = True
    return total if found else None


def _machine(root: Path, seeds: list[int] | None) -> str | None:
    """CPU, threads and the measured matmul peak (its range over the seeds of a seed study)."""
    recs = [
        read_json(p, "machine record")
        for d in ([root / f"seed-{s}" for s in seeds] if seeds else [root])
        if (p := d / "machine.json").is_file()
    ]
    if not recs:
        return None
    peaks = [float(r["matmul_peak_gflops"]) for r in recs if r.get("matmul_peak_gflops") is not None]
    cpu = recs[0].get("gpu") or recs[0].get("cpu", "unknown CPU")
    threads = recs[0].get("threads")
    text = cpu if threads is None else f"{cpu}, {threads} thread{'' if threads == 1 else 's'}"
    if peaks:
        lo, hi = min(peaks), max(peaks)
        text += f", fp32 matmul peak {lo:.0f}" + ("" if round(lo) == round(hi) else f"-{hi:.0f}") + " GFLOP/s"
    return text


def _report_config(d: Path, recipe: dict[str, Any]) -> dict[str, Any]:
    """The validated config of the run's report step (title, claim, headline band), from its step record."""
    for step in _steps(recipe):
        done = d / step["name"] / "step_done.json"
        if step.get("kind") in REPORT_KINDS and done.is_file():
            return dict(read_json(done, "step record").get("config") or {})
    return {}


def _pipeline(run: RecipeRun, res: dict[str, Any], cfg: dict[str, Any]) -> None:
    """A ``report`` step over two evaluations: the headline band's ops (all ops when it has none)."""
    v = res["verdict"]
    corr = v.get("correctness", "process")
    band = cfg.get("headline_band", "edge")
    rows = [r for r in res["rows"] if r["band"] == band and corr in r]
    rows = rows or [r for r in res["rows"] if r["bucket"] == "all" and corr in r]
    run.kind, run.seeds, run.verdict = "pipeline", 1, v["text"]
    run.claim = res.get("claim") or cfg.get("claim") or EDGE_CLAIM
    run.reproduced = _yes_no(v.get("reproduced"))
    for r in rows:
        d = r[corr]["diff_pass@1"]
        where = "all ops" if r["bucket"] == "all" else f"{BAND_LABEL.get(band, band)} op {r['bucket']}"
        what = f"{where}, {LABEL[corr]} pass@1, RL - base"
        run.headline.append(Headline(what, d["mean_diff"], (d["ci_low"], d["ci_high"]), None, _p(d)))
    run.table = [f"**{LABEL[corr].capitalize()} correctness by op.**", "", rows_table(res["rows"], corr)]


def _arms(run: RecipeRun, res: dict[str, Any], cfg: dict[str, Any]) -> None:
    """A ``report`` step over RL arms: the study's headline comparison, pooled over seeds. The edge study: the
    edge arm on the edge ops against the base; a study with a reference arm: every other arm against it on the
    band its claim rests on; otherwise every arm against the base over all ops."""
    v, m = res["verdict"], res["measured"]
    corr, study, ref = m["corr"], v.get("study", "edge"), m.get("reference")
    run.kind, run.verdict, run.reproduced, run.seeds = "arms", v["text"], _yes_no(v.get("reproduced")), m["n_seeds"]
    run.claim = v.get("claim") or cfg.get("claim")
    if study == "edge" and "edge" in m["effects"] and "edge" in m["bands"]:
        picks = [("effects", "edge", "edge")]
    elif m.get("vs_reference"):
        band = ARMS_BAND.get(study, "all")
        if band not in m["bands"] or best_arm(m, band, "pass@1") is None:  # the claim's band ranks no arm
            band = "edge" if "edge" in m["bands"] else "all"
        picks = [("vs_reference", a, band) for a in m["vs_reference"]]
    else:
        picks = [("effects", a, "all") for a in m["effects"]]
    for table, arm, band in picks:
        eff = m[table][arm][band][corr]["pass@1"]
        d, pooled = eff["diff"], eff.get("pooled")
        if d["mean"] is None:
            continue
        against = "base" if table == "effects" else ref
        what = f"{arm} arm - {against}, {BAND_LABEL.get(band, band)} ops, {LABEL[corr]} pass@1"
        ci = None if pooled is None else (pooled["ci_low"], pooled["ci_high"])
        p = "-" if pooled is None else f"p = {pooled['p_value']:.2g} (pooled over {eff['seeds']} seeds)"
        run.headline.append(Headline(what, d["mean"], ci, d["std"], p))
    run.table = [
        f"**By band** ({LABEL[corr]}): mean +- std over RL seeds; effects paired per problem, p pooled over seeds.",
        "",
        *band_table(m),
    ]


def _context(run: RecipeRun, res: dict[str, Any]) -> None:
    """A context-transfer report: RL's gain on the new context at each pre-training exposure (pooled over seeds)."""
    v = res["verdict"]
    run.kind, run.verdict, run.claim = "context transfer", v["text"], v.get("claim")
    run.reproduced = _yes_no(v.get("reproduced"))
    for label in sorted(res["measured"], key=exposure_value):
        m = res["measured"][label]
        eff = next(iter(m["effects"].values()))["all"][m["corr"]]["pass@1"]
        d, pooled = eff["diff"], eff.get("pooled")
        run.seeds = max(run.seeds or 0, m["n_seeds"])
        if d["mean"] is None:
            continue
        what = f"exposure {label}: new context, all ops, {LABEL[m['corr']]} pass@1, RL - base"
        ci = None if pooled is None else (pooled["ci_low"], pooled["ci_high"])
        p = "-" if pooled is None else f"p = {pooled['p_value']:.2g} (pooled over {eff['seeds']} seeds)"
        run.headline.append(Headline(what, d["mean"], ci, d["std"], p))
    run.table = [f"**Exposure threshold:** {v['threshold']['text']}."]


def _rpt(run: RecipeRun, res: dict[str, Any], cfg: dict[str, Any]) -> None:
    """An ``rpt_report`` step: its first comparison on its headline bucket."""
    v = res["verdict"]
    run.kind, run.seeds, run.verdict, run.claim = "rpt", 1, v["text"], cfg.get("claim") or RPT_CLAIM
    run.reproduced = _yes_no(v.get("rpt_better"))
    head = res["tests"].get(COMPARISONS[0][0], {}).get(v["bucket"])
    if head:
        what = f"{v['bucket']} bucket, next-token accuracy, RPT (reasoning) - control (standard)"
        run.headline.append(Headline(what, head["mean_diff"], (head["ci_low"], head["ci_high"]), None, _p(head)))
    run.table = ["**Next-token accuracy (%) by entropy bucket** [95% CI] (n).", "", *table1_lines(res["table1"])]


def _seed_study(run: RecipeRun, study: dict[str, Any], results: dict[int, dict[str, Any]], cfg: dict[str, Any]) -> None:
    """A pipeline's seed study: the headline effect over seeds and each seed's Holm p on the headline band."""
    n = len(study["seeds"])
    first = results[min(results)]
    run.kind, run.seeds, run.verdict = "seed study", n, study_verdict(study)
    run.claim = first.get("claim") or cfg.get("claim") or EDGE_CLAIM
    partly = f", in direction only in {study['partly_in']}" if study.get("partly_in") else ""
    run.reproduced = f"reproduced in {study['reproduced_in']} of {n} seeds{partly}"
    corr, band = study["correctness"], study["headline_band"]
    h = study["headline_effect"]
    if h["mean"] is not None:
        ps = []  # each seed's pooled band test, else (older results) the band's largest Holm p
        for res in results.values():
            ds = [r[corr]["diff_pass@1"] for r in res["rows"] if r["band"] == band and corr in r]
            p = ((res.get("headline_band") or {}).get("pass@1") or {}).get("p_value")
            p = p if p is not None else max((d.get("p_holm", d["p_value"]) for d in ds), default=None)
            ps.append("-" if p is None else f"{p:.2g}")
        what = f"{BAND_LABEL.get(band, band)} ops, {LABEL[corr]} pass@1, RL - base, mean over {n} seeds"
        run.headline.append(
            Headline(what, h["mean"], seed_ci(h["mean"], h["std"], n), h["std"], "band p per seed: " + ", ".join(ps))
        )
    run.table = [f"**{LABEL[corr].capitalize()} pass@1 gain by op over training seeds.**", "", *study_table(study)]


def _rpt_seed_study(
    run: RecipeRun, study: dict[str, Any], results: dict[int, dict[str, Any]], cfg: dict[str, Any]
) -> None:
    """An RPT seed study: its first comparison on the headline bucket over seeds."""
    n = len(study["seeds"])
    # seed studies written before the headline bucket was recorded in them: their seeds' bucket
    study.setdefault("headline_bucket", results[min(results)].get("headline_bucket", "hard"))
    run.kind, run.seeds, run.verdict = "rpt seed study", n, rpt_seed_verdict(study)
    run.claim = cfg.get("claim") or RPT_CLAIM
    judged = (study.get("claims") or {}).get("next_token")  # None in studies written before the judgements
    run.reproduced = f"{judged['status']}: better in {judged['significant_positive']} of {n} seeds" if judged else "-"
    b = study["headline_bucket"]
    h = study["tests"].get(COMPARISONS[0][0], {}).get(b)
    if h:
        what = f"{b} bucket, next-token accuracy, RPT (reasoning) - control (standard), mean over {n} seeds"
        sig = f"Holm p < {study['alpha']} in {round(h['share_significant'] * n)} of {n} seeds"
        run.headline.append(Headline(what, h["mean"], seed_ci(h["mean"], h["std"], n), h["std"], sig))
    run.table = ["**Next-token accuracy (%) by entropy bucket**, mean +- std over seeds.", ""]
    run.table += seed_table1_lines(study["table1"])


def _memorisation(run: RecipeRun, res: dict[str, Any]) -> None:
    """A memorisation report (SFT vs RL): final mean LiMem SFT - RL, mean +- std and t-interval over seeds."""
    s = memorisation_summary(res)
    run.kind, run.verdict, run.claim, run.reproduced = "memorisation", s["verdict"], s["claim"], s["status"]
    h, run.seeds, run.table = s["headline"], s["seeds"], s["table"]
    if h["mean"] is not None:
        run.headline.append(Headline(h["what"], h["mean"], seed_ci(h["mean"], h["std"], h["n"]), h["std"], "-"))


def read_run(root: str | os.PathLike[str]) -> RecipeRun:
    """What the page says about the recipe run in ``root``; an unreadable or unfinished run comes back
    incomplete (``missing`` says what is missing), never as an exception."""
    root = Path(root)
    run = RecipeRun(root.name, root, f"reasonlab run recipes/{root.name}.yaml", title=root.name)
    try:
        recipe = load_yaml(root / "recipe.yaml") if (root / "recipe.yaml").is_file() else {}
        run.name = str(recipe.get("name") or root.name)
        seeds = _seeds(root, recipe)
        run.command, run.title = _command(run.name, recipe, seeds), run.name
        run.wall_s, run.machine = _wall_seconds(root, recipe, seeds), _machine(root, seeds)
        run.missing = _missing(root, recipe, seeds)
        if run.missing:
            return run
        cfg = _report_config(root / f"seed-{seeds[0]}" if seeds else root, recipe)
        run.title = str(cfg.get("title") or run.name)
        if seeds:
            study = read_json(root / "seed_study.json", "seed study")
            results = {s: read_json(root / f"seed-{s}" / "results.json", "results") for s in seeds}
            if study.get("schema") == SEED_SCHEMA:
                _seed_study(run, study, results, cfg)
            elif str(study.get("schema", "")).startswith(RPT_SCHEMA):
                _rpt_seed_study(run, study, results, cfg)
            else:
                run.missing = [f"seed_study.json of an unknown kind (schema {study.get('schema')!r})"]
        else:
            res = read_json(root / "results.json", "results")
            if "verdict" not in res:
                run.missing = [
                    "a verdict in results.json (an older reasonlab wrote it: rerun the recipe's report step)"
                ]
            elif res.get("schema") == RPT_SCHEMA:
                _rpt(run, res, cfg)
            elif "exposures" in res:
                _context(run, res)
            elif "arms" in res and "measured" not in res:
                run.missing = ["band measurements in results.json (an older arms report: rerun the report step)"]
            elif "arms" in res:
                _arms(run, res, cfg)
            elif "rows" in res:
                _pipeline(run, res, cfg)
            elif "memorisation" in res:
                _memorisation(run, res)
            else:
                run.missing = ["results.json of an unknown kind (no rows, arms or schema)"]
    except ReasonlabError as exc:
        run.missing = [str(exc)]
    except (KeyError, TypeError, ValueError, IndexError) as exc:  # a results file of another shape
        run.missing = [f"results of an unexpected shape ({type(exc).__name__}: {exc})"]
    if run.missing:
        run.kind, run.reproduced, run.headline, run.table = "incomplete", "incomplete", [], []
    else:
        run.plots = sorted((root / "plots").glob("*.png"))
    return run


# ----------------------------------------------------------------------------- the page


def collect_runs(runs_dir: str | os.PathLike[str]) -> tuple[list[RecipeRun], list[str]]:
    """Every recipe run directly under ``runs_dir`` (or ``runs_dir`` itself when it is one), by name, and the
    names of the other directories there (not recipe runs: no ``recipe.yaml``, ``results.json`` or
    ``seed_study.json``)."""
    base = Path(runs_dir)
    if not base.is_dir():
        raise ReasonlabError(f"{base}: no such directory (--study takes a folder of recipe runs, e.g. runs)")
    marks = ("recipe.yaml", "results.json", "seed_study.json")
    if any((base / m).is_file() for m in marks):
        return [read_run(base)], []
    runs, skipped = [], []
    for d in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if any((d / m).is_file() for m in marks):
            runs.append(read_run(d))
        else:
            skipped.append(d.name)
    if not runs:
        raise ReasonlabError(f"{base}: no recipe runs here (a recipe run is a directory with recipe.yaml)")
    return runs, skipped


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def study_markdown(
    runs: list[RecipeRun], skipped: list[str], runs_dir: Path, out_dir: Path, inline_images: bool = False
) -> str:
    """The page as markdown: the verdict table, one section per complete run, then the incomplete ones.

    Files are linked relative to ``out_dir`` (where the page is written); with ``inline_images`` the plots are
    embedded as ``data:`` URIs instead (the self-contained HTML page)."""

    def link(path: Path) -> str:
        return f"<{os.path.relpath(os.path.abspath(path), os.path.abspath(out_dir))}>"

    def image(path: Path) -> str:
        return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")

    done = [r for r in runs if not r.missing]
    lines = [
        f"# Study: {runs_dir.resolve().name}",
        "",
        f"{len(runs)} recipe runs under `{runs_dir}`: {len(done)} complete, {len(runs) - len(done)} incomplete. "
        "Effects are in percentage points; CIs are 95%. Seeds: training seeds (RL seeds per arm for arms). "
        "Wall time: the sum of the recipe's step times. Machine: the CPU, threads and fp32 matmul peak measured "
        f"when the run started. Written by reasonlab {__version__}.",
        "",
        "| recipe | verdict | headline effect [95% CI] | p | seeds | wall time | machine | reproduce |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        effect = "; ".join(effect_text(h) for h in r.headline) or (
            "missing: " + "; ".join(r.missing) if r.missing else "-"
        )
        cells = [
            r.name,
            r.reproduced,
            effect,
            "; ".join(h.p for h in r.headline) or "-",
            "-" if r.seeds is None else str(r.seeds),
            _duration(r.wall_s),
            r.machine or "-",
            f"`{r.command}`",
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    lines.append("")
    for i, r in enumerate(done, 1):
        lines += [
            f"## {i}. {r.title}",
            "",
            f"Recipe `{r.name}` ({r.kind}); its own report: [report.md]({link(r.root / 'report.md')}).",
            "",
        ]
        lines += [f"**The claim.** {r.claim}", "", "**What the lab measured.**", "", f"> {_cell(r.verdict or '')}", ""]
        lines += [f"- headline: {effect_text(h)}; {h.p}" for h in r.headline]
        lines += [
            f"- seeds: {r.seeds}; wall time: {_duration(r.wall_s)}; machine: {r.machine or 'not recorded'}",
            f"- reproduce: `{r.command}`",
            "",
            *r.table,
            "",
        ]
        lines += [f"![{r.name}: {p.stem}]({image(p) if inline_images else link(p)})\n" for p in r.plots]
    incomplete = [r for r in runs if r.missing]
    if incomplete:
        lines += ["## Incomplete runs", ""]
        lines += [
            f"- `{r.name}`: missing {'; '.join(r.missing)}. Rerun (finished steps are skipped): `{r.command}`."
            for r in incomplete
        ]
        lines.append("")
    if skipped:
        lines += [f"Not recipe runs, skipped: {', '.join(f'`{s}`' for s in skipped)}.", ""]
    return "\n".join(lines)


def study_html(markdown: str, title: str) -> str:
    """One self-contained HTML page from the page's markdown (raw HTML in the text is escaped, not passed)."""
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{CSS}</style></head>\n<body>\n{body}</body></html>\n"
    )


def write_study_report(
    runs_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """Write ``study.md``, ``study.html`` and ``study.json`` for every recipe run under ``runs_dir`` into
    ``out_dir`` (default: ``runs_dir``); returns ``{"markdown", "html", "json", "runs", "incomplete"}``."""
    base = Path(runs_dir)
    runs, skipped = collect_runs(base)
    out = Path(out_dir) if out_dir is not None else base
    out.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out / "study.md", "html": out / "study.html", "json": out / "study.json"}
    atomic_write_text(paths["markdown"], study_markdown(runs, skipped, base, out))
    page = study_markdown(runs, skipped, base, out, inline_images=True)
    atomic_write_text(paths["html"], study_html(page, f"Study: {base.resolve().name}"))
    rows = [{k: v for k, v in asdict(r).items() if k != "table"} for r in runs]
    data = {"runs_dir": str(base), "runs": rows, "skipped": skipped}
    atomic_write_text(paths["json"], json.dumps(data, indent=1, default=str))
    return {**paths, "runs": len(runs), "incomplete": sum(1 for r in runs if r.missing)}
