"""Fuzzing the command line: any bad argument or config field is ``error: ...`` on one line, exit 2,
and no new file anywhere (hypothesis, on a bounded budget so the suite stays fast)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reasonlab.cli import main

REPO = Path(__file__).resolve().parent.parent
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

#: Text that is never a valid value of a typed field (numbers, names, ranges, choices).
junk = st.one_of(
    st.text(alphabet="!@#$%^&*()[]{}<>?/\\|~`'\" \t", min_size=1, max_size=12),
    st.sampled_from(["-1", "1e999", "nan", "../..", "/etc", "a/b", "2-1", "3-1", "ten", "", " ", "[", "{", "a=b=c"]),
)
bad_value = st.one_of(junk, st.integers(max_value=-1), st.lists(st.integers(), max_size=2), st.none())


def snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def call(tmp: Path, capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    """Run the CLI in ``tmp``; assert a one-line error, exit 2, and no new file under ``tmp``."""
    before = snapshot(tmp)
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        rc = main(args)
    finally:
        os.chdir(cwd)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2, (args, err)
    assert len(err) >= 1 and err[-1].startswith("error: "), (args, err)
    assert all(not line.startswith("Traceback") for line in err)
    assert sum(line.startswith("error: ") for line in err) == 1
    assert snapshot(tmp) == before, (args, snapshot(tmp) - before)


ARITH_KNOBS = ["ops", "context", "mode", "distractors", "num_mode", "modulus", "depth", "operators"]


@FUZZ
@given(knob=st.sampled_from([*ARITH_KNOBS, "colour", "people2"]), value=junk)
def test_data_generate_bad_knobs(tmp_path: Path, capsys: pytest.CaptureFixture[str], knob: str, value: str) -> None:
    if value.strip() == "" and knob in ("context",):
        value = "[]"
    call(tmp_path, capsys, ["data", "generate", "arith", "-n", "3", "--out", "x.jsonl", f"--{knob}={value}"])


@FUZZ
@given(
    args=st.lists(st.sampled_from(["-n", "--seed", "--out", "-x", "--n", "x.txt", "-5", "arith", "nope"]), max_size=5)
)
def test_data_generate_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    if args[:1] == ["arith"] and "-n" in args and "--out" in args:
        return  # could be a valid call; the other cases are all malformed
    call(tmp_path, capsys, ["data", "generate", *args])


def _is_plain_name(value: str) -> bool:
    from reasonlab.config import check_name

    try:
        check_name(value)
    except ValueError:
        return False
    return True


def _set(data: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    node = data
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return data


#: Typed fields of each shipped config (dotted paths) where any ``bad_value`` is invalid.
CONFIG_FIELDS = {
    "configs/pretrain_smoke.yaml": [
        "name",
        "seed",
        "objective",
        "data.num_problems",
        "data.seq_len",
        "optim.lr",
        "optim.max_steps",
        "optim.batch_size",
        "optim.softmax",
        "runtime.device",
        "model.preset",
        "data.unknown",
        "nonsense",
    ],
    "configs/rl_grpo.yaml": [
        "name",
        "steps",
        "rollout.batch_size",
        "rollout.temperature",
        "algorithm.name",
        "algorithm.loss_agg",
        "algorithm.kl.placement",
        "task.reward",
        "task.name",
        "optim.lr",
        "device",
        "nonsense",
    ],
    "configs/eval_smoke.yaml": [
        "name",
        "task",
        "seeds",
        "samples_per_seed",
        "problems_per_bucket",
        "decoding.top_p",
        "buckets.knob",
        "prompt_style",
        "reward",
        "nonsense",
    ],
}
VERB = {"pretrain": ["pretrain"], "rl": ["rl"], "eval": ["eval"]}


@FUZZ
@given(
    config=st.sampled_from(sorted(CONFIG_FIELDS)),
    pick=st.integers(min_value=0, max_value=100),
    value=bad_value,
)
def test_config_fields(tmp_path: Path, capsys: pytest.CaptureFixture[str], config: str, pick: int, value: Any) -> None:
    fields = CONFIG_FIELDS[config]
    field = fields[pick % len(fields)]
    data = yaml.safe_load((REPO / config).read_text())
    if not config.startswith("configs/eval"):
        data["out_dir"] = "runs"  # a valid config would write here: the check below proves nothing was
    if field == "name" and isinstance(value, str) and _is_plain_name(value):
        value = f"../{value}"  # names are plain; a plain one would be valid
    _set(data, field.split("."), value)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(data))
    verb = Path(config).stem.split("_")[0]
    args = [*VERB[verb], str(path)]
    if verb == "eval":
        args += ["--model", "nonexistent-model"]
    call(tmp_path, capsys, args)


@FUZZ
@given(step_field=st.sampled_from(["name", "kind", "config", "overrides", "bogus"]), value=bad_value)
def test_recipe_fields(tmp_path: Path, capsys: pytest.CaptureFixture[str], step_field: str, value: Any) -> None:
    data = yaml.safe_load((REPO / "recipes" / "quickstart.yaml").read_text())
    data["out_dir"] = "runs"
    data["steps"][-1][step_field] = value
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(data))
    call(tmp_path, capsys, ["run", str(path)])
