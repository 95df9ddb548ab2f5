"""Hugging Face ``datasets``: a dataset directory (``reasonlab export hf-dataset``) with a dataset card.

The directory holds ``train.parquet`` (and ``test.parquet``) with the columns of
:func:`reasonlab.integrations.trl.dataset_rows`, and a ``README.md`` whose YAML header names the splits,
so ``datasets.load_dataset(DIR)`` loads it offline; the card says what the columns hold, how the
problems were made and how to score completions. Every other file the lab writes (problem files,
samples, score records, eval records) loads with ``datasets.load_dataset("json"|"parquet", ...)``;
``meta`` is a real nested column in Parquet (:func:`reasonlab.io.write_records`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reasonlab.integrations.common import export_dir
from reasonlab.integrations.trl import dataset_rows
from reasonlab.io import write_records
from reasonlab.tasks import Problem

__all__ = ["dataset_card", "export_hf_dataset"]


def dataset_card(source: dict[str, Any], n_train: int, n_test: int, style: str, conversational: bool) -> str:
    """The ``README.md`` of an exported dataset: YAML split config, then what the columns hold."""
    files = "\n".join(
        f"      - split: {split}\n        path: {split}.parquet"
        for split, n in (("train", n_train), ("test", n_test))
        if n
    )
    made = ", ".join(f"{k}={v}" for k, v in source.items())
    prompt = "chat messages `[{role: user, content}]`" if conversational else "text"
    return f"""---
configs:
  - config_name: default
    data_files:
{files}
tags:
  - reasonlab
  - reasoning
  - rlvr
---

# reasonlab problems

Procedurally generated problems with exact verifiers, exported by `reasonlab export hf-dataset`
({made}; prompt style `{style}`). Splits: train {n_train}, test {n_test} (drawn in one de-duplicated
run, so no prompt is in both).

| column | holds |
|---|---|
| `prompt` | the prompt, as {prompt}, exactly as a reasonlab model is given it |
| `problem` | the problem record (`id`, `task`, `prompt`, `answer`, `solution`, `meta`) as JSON: what verifiers read |
| `id`, `task`, `answer` | the problem's id, task family and canonical answer |

Score completions with reasonlab's verifiers under any reward scheme:

```python
from reasonlab.integrations.trl import REWARD_FUNCS  # TRL GRPOTrainer reward functions, one per scheme
rewards = REWARD_FUNCS["process"](prompts=ds["prompt"], completions=completions, problem=ds["problem"])
```

The `problem` column is text rather than a nested column because `datasets` fills keys missing from
some rows with nulls and cannot type mixed lists; `json.loads` gives the record back exactly.
"""


def export_hf_dataset(
    train: Sequence[Problem],
    test: Sequence[Problem],
    out_dir: str | Path,
    *,
    style: str = "plain",
    conversational: bool = False,
    source: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the dataset directory (``train.parquet``, ``test.parquet``, ``README.md``) atomically."""

    def write(tmp: Path) -> None:
        write_records(tmp / "train.parquet", dataset_rows(train, style, conversational))
        if test:
            write_records(tmp / "test.parquet", dataset_rows(test, style, conversational))
        card = dataset_card(source or {}, len(train), len(test), style, conversational)
        (tmp / "README.md").write_text(card, encoding="utf-8")

    return export_dir(out_dir, "hf-dataset", write, overwrite=overwrite)
