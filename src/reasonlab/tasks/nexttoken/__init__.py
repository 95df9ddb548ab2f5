"""The ``nexttoken`` task family: Reinforcement Pre-Training's next-token reasoning on any text corpus.

- :mod:`~reasonlab.tasks.nexttoken.task`: the knobs (:class:`NextTokenParams`), position pools and the generator;
- :mod:`~reasonlab.tasks.nexttoken.corpus`: documents from a folder, a JSONL/Parquet file or a generated task corpus;
- :mod:`~reasonlab.tasks.nexttoken.segment`: token boundaries in exact bytes under a named tokenizer;
- :mod:`~reasonlab.tasks.nexttoken.table`: the proxy model's entropy table (read here, filled by ``eval.entropy``);
- :mod:`~reasonlab.tasks.nexttoken.verify`: the prediction slot after ``</think>`` and the prefix-match check.
"""

from reasonlab.tasks.nexttoken.corpus import Document, load_documents, position_kind, split_of
from reasonlab.tasks.nexttoken.segment import Segmenter, get_segmenter
from reasonlab.tasks.nexttoken.table import EntropyTable, load_table, write_table
from reasonlab.tasks.nexttoken.task import (
    BUCKETS,
    PLAIN_CUE,
    NextTokenParams,
    NextTokenTask,
    bucket_of,
    build_pool,
    documents_of,
)
from reasonlab.tasks.nexttoken.verify import extract_prediction, last_boxed

__all__ = [
    "BUCKETS",
    "PLAIN_CUE",
    "Document",
    "EntropyTable",
    "NextTokenParams",
    "NextTokenTask",
    "Segmenter",
    "bucket_of",
    "build_pool",
    "documents_of",
    "extract_prediction",
    "get_segmenter",
    "last_boxed",
    "load_documents",
    "load_table",
    "position_kind",
    "split_of",
    "write_table",
]
