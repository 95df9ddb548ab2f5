"""Native models: the decoder (:mod:`~reasonlab.model.decoder`), its tokenizer, checkpoint directories
(:mod:`~reasonlab.model.checkpoint`), the Hugging Face bridge (:mod:`~reasonlab.model.hf` exports,
:mod:`~reasonlab.model.hf_import` imports) and prompts in a model's chat template (:mod:`~reasonlab.model.chat`)."""

from reasonlab.model.checkpoint import is_checkpoint, load_model, save_model, write_model_files
from reasonlab.model.decoder import PRESETS, Decoder, KVCache, ModelConfig
from reasonlab.model.tokenizer import SPECIAL_TOKENS, TaskTokenizer

__all__ = [
    "PRESETS",
    "SPECIAL_TOKENS",
    "Decoder",
    "KVCache",
    "ModelConfig",
    "TaskTokenizer",
    "is_checkpoint",
    "load_model",
    "save_model",
    "write_model_files",
]
