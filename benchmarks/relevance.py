"""Medical-relevance benchmark: false rejections on real medical data, rejections of general-domain text, speed.

    .venv/bin/python benchmarks/relevance.py                  # measure
    .venv/bin/python benchmarks/relevance.py --build-general  # rebuild benchmarks/data/general/*.jsonl

Calibration is Apollo MedBench dev and PubMedQA's first 500 items; the report is Apollo test and PubMedQA's
last 500. The general-domain set is translated software message catalogues found on the machine
(/usr/share/locale/<lang>/LC_MESSAGES/*.mo; English from their msgids), each record naming its catalogue,
plus short paragraphs on cooking, sport, contract law and banking written for this benchmark (WRITTEN).
Rates (records/s) are measured cold, word cache included, one file at a time on one core.
"""

from __future__ import annotations

import argparse
import gettext
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from curation.relevance import DEFAULT_MIN_SCORE, medical_score  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
GENERAL = Path(__file__).resolve().parent / "data" / "general"
LOCALES = {"en": "fr", "zh": "zh_CN", "es": "es", "fr": "fr", "ar": "ar", "hi": "hi"}
CATALOGUES = ("apt", "bash", "glib20", "gtk30", "libc", "coreutils", "grep", "sed", "make", "tar", "PackageKit",
              "gtk20", "appstream", "iso_3166", "xz", "gnupg2", "wget", "diffutils", "findutils")


WRITTEN = {
    "en": ["Preheat the oven, rub the chicken with garlic and lemon, and roast it for an hour, basting twice.",
           "The striker scored in the final minute and the club moved up to third place in the league table.",
           "Either party may terminate this agreement with thirty days' written notice to the other party.",
           "Your savings account earns interest monthly; transfers above the daily limit need a second approval."],
    "es": ["Sofríe la cebolla, añade el arroz y el caldo caliente, y deja cocer la paella veinte minutos sin remover.",
           "El árbitro anuló el gol por fuera de juego y el partido terminó sin goles en el estadio municipal.",
           "El vendedor responde de los vicios ocultos de la vivienda durante seis meses desde la entrega.",
           "La hipoteca a tipo variable se revisa cada año según el euríbor más un diferencial del uno por ciento."],
    "fr": ["Battez les œufs avec le sucre, incorporez la farine puis enfournez le gâteau trente minutes à 180 °C.",
           "L'équipe a remporté le match aux tirs au but après une prolongation sans vainqueur.",
           "Le bail est conclu pour une durée de trois ans renouvelable par tacite reconduction.",
           "Les virements instantanés sont gratuits et le plafond de la carte bancaire peut être relevé en ligne."],
    "zh": ["将鸡蛋打散，加入面粉和牛奶搅拌均匀，放入烤箱烘烤二十分钟即可。",
           "客队在补时阶段打进制胜球，以二比一赢得了比赛。",
           "合同双方应当按照约定全面履行各自的义务，违约方应承担违约责任。",
           "本基金主要投资于国内债券市场，年化收益率约为百分之三。"],
    "ar": ["قطّعي البصل وأضيفي الأرز والماء واتركيه على نار هادئة حتى ينضج.",
           "فاز الفريق بالمباراة بهدفين نظيفين وتصدر جدول الدوري.",
           "يلتزم البائع بتسليم العقار خالياً من أي حقوق للغير في الموعد المحدد بالعقد.",
           "يمكنك تحويل الأموال بين حساباتك عبر التطبيق المصرفي دون رسوم إضافية."],
    "hi": ["प्याज़ को घी में भूनें, फिर चावल और पानी डालकर धीमी आंच पर पकाएं।",
           "कप्तान ने शानदार शतक लगाया और टीम ने मैच आसानी से जीत लिया।",
           "किरायेदार को हर महीने की पांच तारीख तक किराया जमा करना होगा।",
           "बैंक ने गृह ऋण की ब्याज दर में आधा प्रतिशत की कमी की है।"],
}


def build_general(per_lang: int = 300) -> None:
    """Sample long messages from software catalogues: clearly non-medical text in every language."""
    GENERAL.mkdir(parents=True, exist_ok=True)
    for lang, locale in LOCALES.items():
        out, seen = [], set()
        for name in CATALOGUES:
            path = Path(f"/usr/share/locale/{locale}/LC_MESSAGES/{name}.mo")
            if not path.exists():
                continue
            with path.open("rb") as f:
                catalog = gettext.GNUTranslations(f)._catalog  # the parsed msgid -> msgstr table
            for msgid, msgstr in catalog.items():
                text = msgid if lang == "en" else msgstr
                if not isinstance(text, str) or not isinstance(msgid, str) or not msgid:
                    continue
                size = len(text) if lang == "zh" else len(text.split())
                if size < (20 if lang == "zh" else 8) or text in seen:
                    continue
                seen.add(text)
                out.append({"text": text, "source": f"{path} ({'msgid' if lang == 'en' else 'msgstr'})"})
                if len(out) >= per_lang * (CATALOGUES.index(name) + 1) // 6:
                    break
        out = out[:per_lang] + [{"text": t, "source": "written for this benchmark (cooking, sport, law, finance)"}
                                for t in WRITTEN[lang]]
        with (GENERAL / f"{lang}.jsonl").open("w", encoding="utf-8") as f:
            for row in out:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")


def apollo(part: str, lang: str) -> list[str]:
    rows = json.loads((SHARED / "apollo-medbench" / part / f"{lang}.json").read_text(encoding="utf-8"))
    return ["\n".join([r["question"], r["options"], str(r.get("answer", ""))]) for r in rows]


def pubmedqa() -> list[str]:
    rows = json.loads((SHARED / "pubmedqa" / "ori_pqal.json").read_text(encoding="utf-8")).values()
    return ["\n".join([r["QUESTION"], *r["CONTEXTS"], r["LONG_ANSWER"]]) for r in rows]


def report(name: str, texts: list[str], medical: bool) -> None:
    start = time.perf_counter()
    scores = [medical_score(t) for t in texts]
    rate = len(texts) / max(time.perf_counter() - start, 1e-9)
    rejected = [t for t, s in zip(texts, scores) if s < DEFAULT_MIN_SCORE]
    pct = 100 * len(rejected) / max(1, len(texts))
    examples = " || ".join(t[:80].replace("\n", " | ") for t in rejected[:2]) if medical else ""
    print(f"{name:<22} n={len(texts):>5}  rejected {pct:5.1f}%  {rate:>8.0f} rec/s  {examples}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-general", action="store_true")
    if parser.parse_args().build_general:
        build_general()
        return
    print(f"threshold {DEFAULT_MIN_SCORE}: medical records rejected as not medical")
    pq = pubmedqa()
    for part, langs in (("calibration", "en zh es fr ar hi"), ("report", "es fr zh ar hi")):
        print(f"-- {part}")
        for lang in langs.split():
            report(f"apollo {'dev' if part == 'calibration' else 'test'} {lang}",
                   apollo("dev" if part == "calibration" else "test", lang), True)
        report("pubmedqa " + ("first" if part == "calibration" else "last") + " 500",
               pq[:500] if part == "calibration" else pq[500:], True)
    print("-- general-domain text rejected (higher is better)")
    for path in sorted(GENERAL.glob("*.jsonl")):
        texts = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line]
        report(f"general {path.stem}", texts, False)


if __name__ == "__main__":
    main()
