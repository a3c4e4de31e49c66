"""The relevance step judges a record in the light of its source: curated medical sets keep their science items,
planted text of other domains still goes, and general sources are filtered record by record."""

import pytest

from curation.record import make_record
from curation.relevance import general_terms
from curation.steps.relevance import Relevance
from tests.test_relevance import DOMAINS, GENERAL, MEDICAL

# Items medical exams hold that carry no medical word: physics, chemistry, statistics, ecology, economics.
SCIENCE = {
    "en_botany": "A plant that grows along a trellis exhibits\n(A) thigmotropism\n(B) phototropism\n(C) gravitropism",
    "en_stats": "Father of statistics\n(A) John Snow\n(B) John Graunt\n(C) MacMahon\n(D) John M. Last",
    "es_chem": "¿Cómo se denomina la medida del grado de deformación plástica que ha soportado un material hasta la "
               "rotura?:\n1. Ductilidad.\n2. Dureza.\n3. Tenacidad.\n4. Resiliencia.",
    "fr_physics": "Quelle grandeur se conserve lors d'un choc élastique entre deux boules ?\n(A) L'énergie cinétique"
                  "\n(B) La température",
    "zh_politics": "全面建成小康社会的目标要求是\nA. 经济持续稳定增长\nB. 人民民主不断扩大\nC. 文化软实力显著增强",
    "ar_ecology": "ماذا يعني نبات الذي ينمو على سياج؟\n(A) الانتحاء اللمسي\n(B) الانتحاء الضوئي\n(C) الانتحاء الأرضي",
    "hi_physics": "एक इंजीनियर टीम रनवे के लिए संकेत लाइट बना रही है। प्रकाश की तीव्रता दूरी के साथ कैसे बदलती है?\n"
                  "(A) दूरी के वर्ग के व्युत्क्रम में\n(B) दूरी के अनुपात में",
}

# Text of other domains planted in a medical QA set: each holds two or more words of its domain.
PLANTED = {
    "en_recipe": "What is the best way to cook spaghetti?\nBring a large pot of salted water to a rolling boil, add the "
                 "spaghetti and cook until al dente, then toss with the sauce.",
    "es_football": "¿Quién ganó el partido?\nEl delantero marcó en el último minuto y el equipo pasó a la final del "
                   "torneo ante un estadio lleno.",
    "zh_contract": "租房合同到期怎么办？\n租客应在合同到期前一个月通知房东，违约一方按条款支付违约金。",
    "ar_bank": "كيف أفتح حساب توفير؟\nيقدم البنك قروض بفائدة ثابتة، ويمكنك إيداع وديعة وسداد الفاتورة عبر التطبيق.",
    "fr_software": "Comment installer le logiciel ?\nTéléchargez l'installateur, cliquez sur le fichier puis saisissez "
                   "votre mot de passe et votre identifiant.",
    "hi_cricket": "मैच किसने जीता?\nबल्लेबाज ने अंतिम ओवर में छक्का लगाया और टीम ने टूर्नामेंट का फाइनल जीता।",
}

BOILERPLATE = ("We use cookies and similar technologies to remember your preferences, to understand how visitors use "
               "this site and to show content that suits you. ") * 10  # a long page in a health crawl, no medical word


def records(source: str, texts: dict[str, str]) -> list[dict]:
    return [make_record(source, "text", text=t, meta={"name": name}) for name, t in texts.items()]


def medical_set() -> dict[str, str]:
    items = dict(MEDICAL)
    items.update({f"{d}_{lang}": t for d, by_lang in DOMAINS.items() for lang, t in by_lang.items()})
    return items


def judge(recs: list[dict], **options) -> tuple[set[str], dict[str, dict]]:
    step = Relevance(Relevance.Config(**options))
    result = step.apply(recs)
    kept, rejected = result.kept, result.rejected
    assert len(kept) + len(rejected) == len(recs)
    assert all(r.reason == "not medical" for _, r in rejected)
    return {r["meta"]["name"] for r in kept}, {rec["meta"]["name"]: r.detail for rec, r in rejected}


def test_science_items_of_a_medical_source_stay_and_planted_text_goes() -> None:
    source = medical_set() | SCIENCE | PLANTED | {"boilerplate": BOILERPLATE}
    kept, rejected = judge(records("exam", source))
    assert set(medical_set()) | set(SCIENCE) <= kept
    assert set(rejected) == set(PLANTED) | {"boilerplate"}
    assert all(d["medical_source"] and d["source_share"] > 0.8 for d in rejected.values())
    assert rejected["boilerplate"]["words"] > 200 and rejected["boilerplate"]["other_domain_terms"] < 2


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_planted_text_names_words_of_its_domain(name: str) -> None:
    assert len(general_terms(PLANTED[name])) >= 2, general_terms(PLANTED[name])


@pytest.mark.parametrize("name", sorted(SCIENCE) + sorted(medical_set()))
def test_exam_items_hold_no_two_words_of_another_domain(name: str) -> None:
    text = (SCIENCE | medical_set())[name]
    assert len(general_terms(text)) < 2, general_terms(text)


def test_a_general_source_is_judged_record_by_record() -> None:
    general = GENERAL | {k + "_again": v + " Gracias." for k, v in list(GENERAL.items())[:4]}
    assert len(general) >= 20
    kept, rejected = judge(records("chat", general) + records("exam", medical_set()))
    assert not kept & set(general)
    assert set(medical_set()) <= kept
    assert all(not d["medical_source"] for d in rejected.values())


def test_science_items_go_when_each_record_is_judged_alone() -> None:
    kept, rejected = judge(records("exam", medical_set() | SCIENCE), source_share=None)
    assert set(SCIENCE) <= set(rejected)
    assert set(medical_set()) <= kept


def test_a_source_too_small_to_judge_is_judged_record_by_record() -> None:
    small = dict(list(medical_set().items())[:10]) | SCIENCE
    kept, rejected = judge(records("tiny", small))
    assert set(SCIENCE) <= set(rejected)
    assert all(d["source_share"] is None for d in rejected.values())


def test_the_source_shares_reach_meta() -> None:
    result = Relevance().apply(records("exam", medical_set() | SCIENCE) + records("chat", GENERAL | PLANTED))
    kept, rejected = result.kept, result.rejected
    exam = [r["meta"]["relevance"] for r in kept if r["source"] == "exam"]
    assert exam and all(m["medical_source"] and m["source_share"] > 0.85 and m["score"] >= 0 for m in exam)
    assert all(not rec["meta"]["relevance"]["medical_source"] for rec, _ in rejected if rec["source"] == "chat")


def test_decisions_do_not_depend_on_how_records_are_cut_into_shards() -> None:
    recs = records("exam", medical_set() | SCIENCE | PLANTED) + records("chat", GENERAL)

    class Small(Relevance):
        def shard_rows(self) -> int:
            return 7

    whole = [r["id"] for r in Relevance().apply([dict(r, meta=dict(r["meta"])) for r in recs]).kept]
    cut = [r["id"] for r in Small().apply([dict(r, meta=dict(r["meta"])) for r in recs]).kept]
    assert whole == cut
