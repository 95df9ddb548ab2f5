"""Typed configs: unknown or ill-typed fields are one-line errors naming the field."""

import pytest

from reasonlab.config import StrictModel, dump_config, load_config, validate
from reasonlab.errors import ReasonlabError


class Inner(StrictModel):
    lr: float = 1e-3


class Cfg(StrictModel):
    name: str
    steps: int = 10
    inner: Inner = Inner()


def test_valid_and_dump(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: x\ninner: {lr: 0.5}\n")
    cfg = load_config(path, Cfg)
    assert cfg.inner.lr == 0.5 and cfg.steps == 10
    assert "lr: 0.5" in dump_config(cfg)


def test_errors(tmp_path):
    with pytest.raises(ReasonlabError, match=r"unknown field 'stepz' \(allowed: name, steps, inner\)"):
        validate(Cfg, {"name": "x", "stepz": 3})
    with pytest.raises(ReasonlabError, match=r"field 'steps'"):
        validate(Cfg, {"name": "x", "steps": "many"})
    with pytest.raises(ReasonlabError, match=r"field 'inner.lr'"):
        validate(Cfg, {"name": "x", "inner": {"lr": "fast"}})
    with pytest.raises(ReasonlabError, match="no such config file"):
        load_config(tmp_path / "none.yaml", Cfg)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ReasonlabError, match=r"bad\.yaml:\d+: invalid YAML"):
        load_config(bad, Cfg)
    top = tmp_path / "list.yaml"
    top.write_text("- 1\n")
    with pytest.raises(ReasonlabError, match="expected a YAML mapping"):
        load_config(top, Cfg)
