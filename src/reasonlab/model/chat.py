"""Prompts for one model: a task's own styles, or its chat conversation in the model's chat template.

An instruct model imported from Hugging Face (:mod:`reasonlab.model.hf_import`) carries the Jinja chat
template it was tuned with. The ``model_chat`` prompt style (:data:`reasonlab.tasks.base.MODEL_CHAT`) renders
a task's chat conversation (:meth:`reasonlab.tasks.Task.chat_prompt`: system and user turns) through that
template with ``add_generation_prompt=True``, then appends the task's pre-filled start of the answer
(``<think>`` for Knights & Knaves). The completion the model generates after it is all a verifier reads.

The template runs the way ``transformers``' ``apply_chat_template`` runs it, without needing transformers:
a Jinja ``ImmutableSandboxedEnvironment`` (templates are untrusted code) with ``trim_blocks`` and
``lstrip_blocks``, the loop-controls extension, a ``tojson`` filter that does not escape HTML,
``raise_exception`` and ``strftime_now``, and the tokenizer's named special tokens (``bos_token`` ...) as
variables. A ``model_chat`` prompt is encoded as rendered, with no BOS added, since the template writes
every special token itself (``apply_chat_template(tokenize=True)`` encodes with
``add_special_tokens=False`` too).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment

from reasonlab.errors import ReasonlabError
from reasonlab.model.tokenizer import TaskTokenizer
from reasonlab.tasks.base import MODEL_CHAT, Problem, Task

__all__ = ["ChatTemplate", "Prompter"]


def _raise_exception(message: str) -> None:
    """``raise_exception(msg)`` inside a template: how templates reject a conversation (e.g. a system turn)."""
    raise jinja2.TemplateError(message)


def _tojson(
    value: Any, ensure_ascii: bool = False, indent: int | None = None, separators: Any = None, sort_keys: bool = False
) -> str:
    """JSON without Jinja's HTML escaping, as ``transformers`` defines the filter."""
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _strftime_now(fmt: str) -> str:
    """The current local time formatted (templates that stamp a date into the system turn use it)."""
    return datetime.now().strftime(fmt)


class _GenerationBlock(Extension):
    """``{% generation %} ... {% endgeneration %}``: transformers marks assistant text for training masks with
    it; rendering a prompt only needs the body, so the block renders as its contents."""

    tags = {"generation"}  # noqa: RUF012 (a set, as jinja2's Extension declares it)

    def parse(self, parser: Parser) -> list[nodes.Node]:
        """The statements between the tags, unchanged."""
        next(parser.stream)
        return parser.parse_statements(("name:endgeneration",), drop_needle=True)


@lru_cache(maxsize=8)
def _compile(source: str) -> jinja2.Template:
    """The compiled template (cached: evaluation and RL render thousands of prompts with one template)."""
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols, _GenerationBlock]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    return env.from_string(source)


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line (Jinja messages may span lines)."""
    return " ".join(str(exc).split()) or type(exc).__name__


class ChatTemplate:
    """A model's Jinja chat template, compiled once; ``origin`` names it in every error."""

    def __init__(self, source: str, special_tokens: dict[str, str], origin: str) -> None:
        self.origin = origin
        self.special_tokens = dict(special_tokens)
        try:
            self._template = _compile(source)
        except jinja2.TemplateError as exc:
            raise ReasonlabError(f"{origin}: chat template does not compile ({_one_line(exc)})") from None

    @classmethod
    def of(cls, tokenizer: TaskTokenizer, origin: str = "model") -> ChatTemplate:
        """The template a tokenizer carries (a one-line error when it has none)."""
        if tokenizer.chat_template is None:
            raise ReasonlabError(
                f"{origin}: the model has no chat template, so prompt style {MODEL_CHAT!r} cannot be used "
                "(import an instruct model with `reasonlab import hf`, or use style plain or chat)"
            )
        return cls(tokenizer.chat_template, tokenizer.special_token_strings(), origin)

    def render(self, messages: Sequence[dict[str, str]], *, add_generation_prompt: bool = True) -> str:
        """The conversation as the model's prompt text (``add_generation_prompt`` opens the assistant turn)."""
        try:
            return self._template.render(
                messages=[dict(m) for m in messages],
                tools=None,
                documents=None,
                add_generation_prompt=add_generation_prompt,
                **self.special_tokens,
            )
        except jinja2.TemplateError as exc:  # raise_exception, undefined names, sandbox violations
            raise ReasonlabError(f"{self.origin}: chat template failed ({_one_line(exc)})") from None
        except (TypeError, ValueError, KeyError, IndexError, AttributeError, ArithmeticError) as exc:
            raise ReasonlabError(
                f"{self.origin}: chat template failed ({type(exc).__name__}: {_one_line(exc)})"
            ) from None


class Prompter:
    """How problems become ``(prompt, gold completion)`` texts and prompt ids for one model and style.

    A task's own styles (``plain``, ``chat`` ...) come from ``task.render`` and are encoded with a
    leading BOS; :data:`MODEL_CHAT` renders ``task.chat_prompt`` through the tokenizer's chat template
    (built, and checked, when the Prompter is made) and is encoded as rendered. Training corpora,
    rollouts and evaluations all prompt through this one class, so they agree token for token.
    """

    def __init__(self, style: str, tokenizer: TaskTokenizer | None = None, origin: str = "model") -> None:
        self.style = style
        self.template: ChatTemplate | None = None
        if style == MODEL_CHAT:
            if tokenizer is None:
                raise ReasonlabError(
                    f"prompt style {MODEL_CHAT!r} needs a model with a chat template (it cannot train a tokenizer)"
                )
            self.template = ChatTemplate.of(tokenizer, origin)

    @property
    def add_bos(self) -> bool:
        """Whether prompt ids start with the tokenizer's BOS (False when the chat template writes its own)."""
        return self.template is None

    def render(self, task: Task, problem: Problem) -> tuple[str, str]:
        """``(prompt, gold completion)`` of ``problem`` in this style."""
        if self.template is None:
            return task.render(problem, self.style)
        chat = task.chat_prompt(problem)
        prompt = self.template.render(chat.messages, add_generation_prompt=True) + chat.prefill
        return prompt, task.render(problem, "chat")[1]

    def prompt(self, task: Task, problem: Problem) -> str:
        """The prompt text of ``problem`` in this style."""
        return self.render(task, problem)[0]

    def encode(self, tokenizer: TaskTokenizer, prompts: Sequence[str]) -> list[list[int]]:
        """Prompt ids as the sampler is given them (with BOS unless the chat template wrote the prompt)."""
        return tokenizer.encode_batch(prompts, add_bos=self.add_bos)
