"""Bridges to other engines, one module each: verl, TRL, OpenRLHF, Hugging Face ``datasets``.

Every bridge scores with :func:`reasonlab.rewards.score` under any reward scheme, and reads the problem
a completion answers from a field that carries the whole problem record as JSON text
(:func:`problem_json` / :func:`problem_from_json`), so the verifier sees exactly what it would see in
``reasonlab rl``. The engines themselves are optional: the modules import them only inside the
functions that need them, and the scoring functions need none of them.
"""

from reasonlab.integrations.common import problem_from_json, problem_json, score_details

__all__ = ["problem_from_json", "problem_json", "score_details"]
