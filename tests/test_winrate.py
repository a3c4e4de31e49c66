"""The judge's win rate of an aligned model over the stage-before model: order randomised, ties and invalid
verdicts counted apart, and the embedded model as a real judge of two real models' replies."""

from __future__ import annotations

import pytest
import torch

from training.config import ModelSpec, RandomModel
from training.evaluation.config import WinRateSpec
from training.evaluation.generate import continue_texts
from training.evaluation.winrate import compare, llm_judge, sample_prompts, win_rate
from training.model import load_model, load_tokenizer

PROMPTS = [
    [{"role": "user", "content": "What is the first-line treatment of uncomplicated hypertension?"}],
    [{"role": "user", "content": "¿Cuál es la dosis habitual de paracetamol en adultos?"}],
    [{"role": "user", "content": "糖尿病患者如何监测血糖？"}],
    [{"role": "user", "content": "ما هي أعراض فقر الدم؟"}],
    [{"role": "system", "content": "Tu es un médecin prudent."},
     {"role": "user", "content": "Quels sont les signes d'une méningite chez l'enfant ?"}],
    [{"role": "user", "content": "मधुमेह के सामान्य लक्षण क्या हैं?"}],
] * 4  # 24 prompts, each language four times: enough to see both presentation orders
LANGS = ["en", "es", "zh", "ar", "fr", "hi"] * 4
SHORT = ["ACE inhibitor.", "1 g.", "血糖仪。", "التعب.", "Fièvre.", "प्यास।"] * 4
LONG = ["A thiazide, an ACE inhibitor or a calcium-channel blocker, with lifestyle advice and follow-up.",
        "De 500 mg a 1 g cada 6-8 horas, sin pasar de 4 g al día; menos en hepatopatía.",
        "每天用血糖仪测指尖血糖，并定期检测糖化血红蛋白，记录结果供医生调整治疗。",
        "التعب وشحوب الجلد وضيق التنفس والدوخة، ويؤكد التشخيص تحليل الهيموغلوبين.",
        "Fièvre, raideur de nuque, vomissements, purpura : une urgence qui impose d'appeler le 15.",
        "अधिक प्यास, बार-बार पेशाब, थकान और धुंधली दृष्टि; जांच के लिए डॉक्टर से मिलें।"] * 4


def longer_is_better(asks):
    """A rule judge (not a stand-in for a service: it is a judge in its own right) that prefers the fuller reply."""
    out = []
    for _, first, second, _ in asks:
        out.append("tie" if len(first) == len(second) else "first" if len(first) > len(second) else "second")
    return out


def test_verdicts_map_back_to_the_models_whatever_order_they_were_shown_in():
    result = compare(PROMPTS, LONG, SHORT, longer_is_better, seed=3, langs=LANGS)
    assert (result.wins, result.losses, result.ties, result.invalid) == (24, 0, 0, 0)
    assert result.rate == 1.0
    assert 0 < result.shown_first < 24  # both orders were used
    assert {r["new_shown_first"] for r in result.rows} == {True, False}
    worse = compare(PROMPTS, SHORT, LONG, longer_is_better, seed=3, langs=LANGS)
    assert (worse.wins, worse.losses, worse.rate) == (0, 24, 0.0)


def test_order_is_seeded_and_ties_and_invalid_verdicts_are_counted_apart():
    a = compare(PROMPTS, LONG, SHORT, longer_is_better, seed=5)
    b = compare(PROMPTS, LONG, SHORT, longer_is_better, seed=5)
    c = compare(PROMPTS, LONG, SHORT, longer_is_better, seed=6)
    assert [r["new_shown_first"] for r in a.rows] == [r["new_shown_first"] for r in b.rows]
    assert [r["new_shown_first"] for r in a.rows] != [r["new_shown_first"] for r in c.rows]

    def undecided(asks):
        return ["tie" if i % 3 == 0 else None if i % 3 == 1 else longer_is_better([ask])[0]
                for i, ask in enumerate(asks)]

    mixed = compare(PROMPTS, LONG, SHORT, undecided, seed=5)
    assert (mixed.ties, mixed.invalid, mixed.wins) == (8, 8, 8)
    assert mixed.judged == 16 and mixed.rate == pytest.approx((8 + 4) / 16)  # a tie is half a win
    same = compare(PROMPTS, LONG, LONG, lambda asks: ["first"] * len(asks), seed=5)
    assert same.ties == 24 and same.rate == 0.5  # the same reply twice is a tie whatever the judge says


def test_prompt_sample_is_distinct_seeded_and_ordered():
    picked = sample_prompts(PROMPTS, 4, seed=2)
    assert len(picked) == 4 and picked == sorted(picked)
    assert len({repr(PROMPTS[i]) for i in picked}) == 4
    assert picked == sample_prompts(PROMPTS, 4, seed=2)
    assert sample_prompts(PROMPTS, 50, seed=2) == list(range(6))  # six distinct prompts, each once


def test_the_embedded_model_judges_two_real_models_replies():
    """Two tiny random models answer; SmolLM2-135M (the embedded default judge) compares. A 135M judge may
    fail to give valid JSON, so only the bookkeeping is asserted: every prompt ends in exactly one count."""
    tokenizer = load_tokenizer(ModelSpec())
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tiny = RandomModel(hidden_size=32, layers=2, heads=2, intermediate_size=64)
    torch.manual_seed(0)
    new = load_model(ModelSpec(random=tiny), tokenizer)
    torch.manual_seed(1)
    old = load_model(ModelSpec(random=tiny), tokenizer)
    spec = WinRateSpec(prompts=4, max_tokens=12, judge_max_tokens=40, repairs=0, seed=4)
    replies = continue_texts(new, tokenizer, PROMPTS[:4], spec.max_tokens, spec.batch_size, flatten=False)
    assert len(replies) == 4 and all(isinstance(r, str) for r in replies)
    result = win_rate(new, tokenizer, PROMPTS, spec, before=old, judge=llm_judge(spec), langs=LANGS)
    assert result.wins + result.losses + result.ties + result.invalid == 4
    assert len(result.rows) == 4 and all(r["verdict"] in ("new", "old", "tie", None) for r in result.rows)
    assert result.to_dict()["judged"] == result.judged
    with pytest.raises(ValueError, match="not both"):
        win_rate(new, tokenizer, PROMPTS, spec, before=old, before_context=lambda: torch.no_grad())
