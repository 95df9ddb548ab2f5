"""Sampler: KV-cache greedy == full recompute, per-seed determinism, padding invariance, stops, filters."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reasonlab.errors import ReasonlabError
from reasonlab.model import Decoder, ModelConfig, TaskTokenizer
from reasonlab.sampling import SamplingParams, generate, generate_ids, sample_tokens, uniforms

torch.set_num_threads(1)

CORPUS = [
    "<question>a = 12 + 7. b = a * 3.</question><solution>a = 19. b = 57.</solution><answer>57</answer>",
    "the cat sat on the mat and the dog ate the log",
] * 20


@pytest.fixture(scope="module")
def tok() -> TaskTokenizer:
    return TaskTokenizer.build(CORPUS, 300)


@pytest.fixture(scope="module")
def model(tok: TaskTokenizer) -> Decoder:
    torch.manual_seed(0)
    cfg = ModelConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        num_layers=2,
        num_heads=4,
        num_kv_heads=2,
        intermediate_size=64,
        max_seq_len=96,
    )
    m = Decoder(cfg).eval()
    with torch.no_grad():  # sharpen the random model so greedy/sampled paths are not all ties
        m.embed.weight.mul_(6)
        # make EOS unlikely so rows run to length unless a test asks otherwise
        m.embed.weight[tok.eos_id].zero_()
    return m


def full_recompute_greedy(model: Decoder, prompt: list[int], n: int) -> list[int]:
    ids = list(prompt)
    out = []
    with torch.no_grad():
        for _ in range(n):
            nxt = int(model(torch.tensor([ids]))[0, -1].argmax())
            out.append(nxt)
            ids.append(nxt)
    return out


def test_greedy_kv_cache_equals_full_recompute(model: Decoder, tok: TaskTokenizer) -> None:
    prompts = [tok.encode(t, add_bos=True) for t in ["a = 12", "the cat sat on the", "<question>b"]]
    gens = generate_ids(model, tok, prompts, SamplingParams(max_new_tokens=12, temperature=0), [0, 1, 2])
    for p, g in zip(prompts, gens, strict=True):
        assert g.token_ids == full_recompute_greedy(model, p, 12)
        assert g.finish_reason == "length" and g.prompt_ids == p
        assert g.text == tok.decode(g.token_ids, skip_special=True)


def test_same_seed_same_sample_regardless_of_batch(model: Decoder, tok: TaskTokenizer) -> None:
    params = SamplingParams(max_new_tokens=16, temperature=1.0, top_p=0.95, top_k=50)
    target = "a = 12 + 7."
    alone = generate(model, tok, [target], params, [1234])[0]
    others = ["the cat sat on the mat and the dog", "b", target, "<question>a = 12 + 7. b = a * 3."]
    mixed = generate(model, tok, others, params, [5, 6, 1234, 7], batch_size=3)
    assert mixed[2].token_ids == alone.token_ids
    assert generate(model, tok, [target], params, [1234])[0].token_ids == alone.token_ids
    diff = generate(model, tok, [target] * 4, params, [1, 2, 3, 4])
    assert len({tuple(g.token_ids) for g in diff}) > 1


def test_padding_invariance_greedy(model: Decoder, tok: TaskTokenizer) -> None:
    params = SamplingParams(max_new_tokens=10, temperature=0)
    short = "the dog"
    alone = generate(model, tok, [short], params, [0])[0]
    batch = generate(model, tok, ["<question>a = 12 + 7. b = a * 3.</question>", short], params, [0, 0])
    assert batch[1].token_ids == alone.token_ids


def test_logprobs_match_recomputed(model: Decoder, tok: TaskTokenizer) -> None:
    params = SamplingParams(max_new_tokens=6, temperature=0.7)
    g = generate(model, tok, ["a = 1"], params, [3], return_logprobs=True)[0]
    ids = torch.tensor([g.prompt_ids + g.token_ids])
    with torch.no_grad():
        logits = model(ids)[0, len(g.prompt_ids) - 1 : -1] / 0.7
    expected = logits.log_softmax(-1).gather(-1, torch.tensor(g.token_ids)[:, None]).squeeze(-1)
    assert np.allclose(g.logprobs, expected.numpy(), atol=1e-4)


def test_stop_strings_cut_text_and_tokens(model: Decoder, tok: TaskTokenizer) -> None:
    params = SamplingParams(max_new_tokens=30, temperature=1.0)
    full = generate(model, tok, ["the cat"], params, [9])[0]
    assert len(full.text) > 6
    stop = full.text[3:6]
    cut = generate(model, tok, ["the cat"], SamplingParams(max_new_tokens=30, temperature=1.0, stop=[stop]), [9])[0]
    assert cut.finish_reason == "stop"
    assert cut.text == full.text[: full.text.find(stop) + len(stop)]
    assert full.token_ids[: len(cut.token_ids)] == cut.token_ids
    assert len(cut.token_ids) < len(full.token_ids)


def test_stop_token_ids_and_eos(model: Decoder, tok: TaskTokenizer) -> None:
    full = generate(model, tok, ["a = 1"], SamplingParams(max_new_tokens=20, temperature=0), [0])[0]
    stop_tok = full.token_ids[4]
    first = full.token_ids.index(stop_tok)
    g = generate(
        model, tok, ["a = 1"], SamplingParams(max_new_tokens=20, temperature=0, stop_token_ids=[stop_tok]), [0]
    )[0]
    assert g.token_ids == full.token_ids[: first + 1] and g.finish_reason == "stop"
    # a model that always emits EOS stops after one token, and EOS is not in the text
    eos_model = Decoder(model.config).eval()
    eos_bias = torch.zeros(model.config.vocab_size)
    eos_bias[tok.eos_id] = 100.0
    eos_model.logits = lambda h: torch.nn.functional.linear(h, eos_model.embed.weight) + eos_bias  # type: ignore
    g = generate(eos_model, tok, ["a", "bb"], SamplingParams(max_new_tokens=5, temperature=0), [0, 1])
    assert [x.token_ids for x in g] == [[tok.eos_id]] * 2 and g[0].text == "" and g[0].finish_reason == "stop"


def test_finished_rows_are_dropped_and_others_unaffected(model: Decoder, tok: TaskTokenizer) -> None:
    # stop token ids that end some rows early must not change the other rows
    params = SamplingParams(max_new_tokens=15, temperature=1.0)
    prompts = ["a = 1", "the", "the cat sat", "b = 2 *", "x", "dog"]
    base = generate(model, tok, prompts, params, list(range(6)))
    stop_tok = base[0].token_ids[1]
    params2 = SamplingParams(max_new_tokens=15, temperature=1.0, stop_token_ids=[stop_tok])
    again = generate(model, tok, prompts, params2, list(range(6)))
    for b, a in zip(base, again, strict=True):
        if stop_tok in b.token_ids:
            k = b.token_ids.index(stop_tok)
            assert a.token_ids == b.token_ids[: k + 1] and a.finish_reason == "stop"
        else:
            assert a.token_ids == b.token_ids


def test_max_seq_len_budget(model: Decoder, tok: TaskTokenizer) -> None:
    prompt = [tok.bos_id] + [5] * 90
    g = generate_ids(model, tok, [prompt], SamplingParams(max_new_tokens=50, temperature=0), [0])[0]
    assert len(g.token_ids) == 96 - 91 and g.finish_reason == "length"
    with pytest.raises(ReasonlabError, match="max_seq_len"):
        generate_ids(model, tok, [[5] * 96], SamplingParams(max_new_tokens=5), [0])


def test_sample_tokens_filters_by_hand() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    # top_k=2 renormalises over {0: .625, 1: .375}
    p = SamplingParams(temperature=1.0, top_k=2)
    assert sample_tokens(logits, torch.tensor([0.6]), p).item() == 0
    assert sample_tokens(logits, torch.tensor([0.63]), p).item() == 1
    # top_p=0.7 keeps {0, 1} (0.5 < 0.7, 0.8 >= 0.7)
    p = SamplingParams(temperature=1.0, top_p=0.7)
    assert sample_tokens(logits, torch.tensor([0.99]), p).item() == 1
    # no filters: cumulative .5 .8 .95 1.0
    p = SamplingParams(temperature=1.0)
    assert [sample_tokens(logits, torch.tensor([u]), p).item() for u in (0.1, 0.6, 0.9, 0.97)] == [0, 1, 2, 3]
    assert sample_tokens(logits, torch.tensor([0.97]), SamplingParams(temperature=0)).item() == 0


def test_uniforms_are_uniform_and_counter_based() -> None:
    keys = np.array([1, 2, 3], dtype=np.uint64)
    a = uniforms(keys, np.array([0, 0, 0]))
    assert np.array_equal(a[1:], uniforms(keys[1:], np.array([0, 0])))
    many = uniforms(np.full(20000, 7, dtype=np.uint64), np.arange(20000))
    assert many.min() >= 0 and many.max() < 1 and abs(many.mean() - 0.5) < 0.01


def test_param_validation() -> None:
    for bad in (dict(temperature=-1), dict(top_p=0), dict(top_k=-1), dict(max_new_tokens=0), dict(stop=[""])):
        with pytest.raises(ReasonlabError, match="sampling"):
            SamplingParams(**bad)


def test_shared_prompt_prefill_gives_same_samples(model: Decoder, tok: TaskTokenizer) -> None:
    params = SamplingParams(max_new_tokens=10, temperature=1.0)
    group = generate(model, tok, ["a = 12", "the cat", "a = 12", "a = 12"], params, [1, 2, 3, 4])
    alone = [generate(model, tok, [p], params, [s])[0] for p, s in (("a = 12", 1), ("a = 12", 3), ("a = 12", 4))]
    assert [g.token_ids for g in (group[0], group[2], group[3])] == [g.token_ids for g in alone]
    assert len({tuple(g.token_ids) for g in alone}) > 1


def test_shared_prompts_that_finish_early_match_alone(model: Decoder, tok: TaskTokenizer) -> None:
    # rows of shared prompts ending at different steps (compaction of the shared-prefix cache)
    prompts = ["a = 12"] * 3 + ["the cat sat"] * 3
    base = generate(model, tok, prompts, SamplingParams(max_new_tokens=14, temperature=1.0), list(range(6)))
    stop_tok = base[0].token_ids[2]
    params = SamplingParams(max_new_tokens=14, temperature=1.0, stop_token_ids=[stop_tok])
    group = generate(model, tok, prompts, params, list(range(6)))
    alone = [generate(model, tok, [p], params, [s])[0] for s, p in enumerate(prompts)]
    assert [g.token_ids for g in group] == [g.token_ids for g in alone]
    assert len({len(g.token_ids) for g in group}) > 1
    copied = generate(model, tok, prompts, params, list(range(6)), shared_prefix=False)  # a cache copy per row
    assert [g.token_ids for g in copied] == [g.token_ids for g in group]


def test_filtered_distribution_matches_renormalised_probabilities() -> None:
    probs = torch.tensor([0.05, 0.25, 0.1, 0.4, 0.2])
    logits = probs.log().unsqueeze(0)
    n = 2000
    grid = (torch.arange(n, dtype=torch.float64) + 0.5) / n  # evenly spaced u: exact frequencies

    def freqs(p: SamplingParams) -> torch.Tensor:
        picks = sample_tokens(logits.expand(n, -1), grid, p)
        return torch.bincount(picks, minlength=5).double() / n

    expected_k3 = torch.tensor([0.0, 0.25, 0.0, 0.4, 0.2], dtype=torch.float64) / 0.85
    assert torch.allclose(freqs(SamplingParams(temperature=1.0, top_k=3)), expected_k3, atol=1e-3)
    # top_p=0.6: 0.4 < 0.6, 0.65 >= 0.6 -> keep {3, 1}
    expected_p = torch.tensor([0.0, 0.25, 0.0, 0.4, 0.0], dtype=torch.float64) / 0.65
    assert torch.allclose(freqs(SamplingParams(temperature=1.0, top_p=0.6)), expected_p, atol=1e-3)
    # temperature 0.5 squares and renormalises the probabilities
    sq = probs.double() ** 2
    assert torch.allclose(freqs(SamplingParams(temperature=0.5)), sq / sq.sum(), atol=1e-3)
