"""Medical-relevance benchmark: false rejections on real medical data, rejections of general-domain text, speed.

    .venv/bin/python benchmarks/relevance.py                  # measure
    .venv/bin/python benchmarks/relevance.py --build-general  # rebuild benchmarks/data/general/*.jsonl

Calibration is Apollo MedBench dev and PubMedQA's first 500 items; the report is Apollo test and PubMedQA's
last 500. The general-domain set is translated software message catalogues found on the machine
(/usr/share/locale/<lang>/LC_MESSAGES/*.mo; English from their msgids), each record naming its catalogue,
plus short paragraphs written for this benchmark on cooking, sport, contract law and banking (WRITTEN) and on
weather, the economy, software set-up, museums, travel, school, astronomy and gardening (MORE_WRITTEN).
Rates (records/s) are measured one file at a time on one core: cold (the per-word cache filling) and warm (the
same records again, as in a long run whose vocabulary has been seen).
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
from curation.steps.relevance import Relevance  # noqa: E402

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
# Written for this benchmark as well: weather, economy, software, museums, travel, school, astronomy, gardening.
MORE_WRITTEN = {
    "en": [
        "Heavy rain is expected across the north on Thursday, with winds of up to 60 km/h along the coast and cooler"
        " temperatures by the weekend.",
        "The central bank held interest rates steady, saying inflation had eased but the labour market remained tight.",
        "To install the package, run the setup script, then add the bin folder to your PATH and restart the terminal"
        " session.",
        "The museum's new wing displays Roman coins, bronze tools and a reconstructed kitchen from a villa near the"
        " river.",
        "The train to the airport leaves every twenty minutes from platform four; tickets can be bought on the app"
        " or at the machines.",
        "Students must submit the essay by Friday; late work loses ten percent of the mark for each day after the"
        " deadline.",
        "The telescope recorded the light curve of a distant star as a planet passed in front of it, dimming it by"
        " one percent.",
        "Water the tomato plants in the morning, pinch out the side shoots and add compost to the soil once the"
        " first fruits appear.",
    ],
    "es": [
        "Se esperan lluvias intensas en el norte el jueves, con rachas de viento de hasta 60 km/h en la costa y un"
        " descenso de las temperaturas.",
        "El banco central mantuvo los tipos de interés, al considerar que la inflación se ha moderado aunque el"
        " empleo sigue fuerte.",
        "Para instalar el programa, ejecute el script de configuración, añada la carpeta bin a la variable PATH y"
        " reinicie la terminal.",
        "El museo inaugura una sala con monedas romanas, herramientas de bronce y la cocina reconstruida de una"
        " villa junto al río.",
        "El tren al aeropuerto sale cada veinte minutos desde el andén cuatro; los billetes se compran en la"
        " aplicación o en las máquinas.",
        "Los alumnos deben entregar el trabajo antes del viernes; cada día de retraso resta un diez por ciento de la"
        " nota final.",
        "El telescopio registró la curva de luz de una estrella lejana cuando un planeta pasó por delante y la"
        " atenuó un uno por ciento.",
        "Riegue las tomateras por la mañana, quite los brotes laterales y añada compost a la tierra cuando aparezcan"
        " los primeros frutos.",
    ],
    "fr": [
        "De fortes pluies sont attendues dans le nord jeudi, avec des rafales jusqu'à 60 km/h sur le littoral et une"
        " baisse des températures.",
        "La banque centrale a maintenu ses taux directeurs, estimant que l'inflation ralentit mais que le marché du"
        " travail reste tendu.",
        "Pour installer le logiciel, lancez le script de configuration, ajoutez le dossier bin au PATH puis"
        " redémarrez le terminal.",
        "Le musée ouvre une aile consacrée aux monnaies romaines, aux outils en bronze et à la cuisine reconstituée"
        " d'une villa.",
        "Le train pour l'aéroport part toutes les vingt minutes du quai quatre ; les billets s'achètent sur"
        " l'application ou aux bornes.",
        "Les élèves doivent rendre leur dissertation vendredi ; chaque jour de retard coûte dix pour cent de la note.",
        "Le télescope a enregistré la courbe de lumière d'une étoile lointaine au passage d'une planète qui l'a"
        " atténuée d'un pour cent.",
        "Arrosez les tomates le matin, supprimez les gourmands et ajoutez du compost au sol dès l'apparition des"
        " premiers fruits.",
    ],
    "zh": [
        "预计周四北方地区将出现强降雨，沿海阵风可达每小时六十公里，周末气温将明显下降。",
        "央行宣布维持基准利率不变，认为通胀有所缓和，但就业市场依然紧张。",
        "安装软件时，请先运行配置脚本，再把 bin 目录加入 PATH 环境变量，然后重新打开终端。",
        "博物馆新展厅展出了罗马钱币、青铜工具以及按原样复原的古代别墅厨房。",
        "前往机场的列车每二十分钟一班，从四号站台发车，可以在手机应用或自助售票机上购票。",
        "学生须在周五前提交论文，逾期每天扣除总分的百分之十。",
        "望远镜记录了一颗遥远恒星的光变曲线，当行星从它前方经过时，亮度降低了百分之一。",
        "早上给番茄浇水，摘掉侧芽，第一批果实出现后在土壤里加些堆肥。",
    ],
    "ar": [
        "يُتوقع هطول أمطار غزيرة على المناطق الشمالية يوم الخميس مع رياح تصل سرعتها إلى ستين كيلومترا في الساعة على"
        " الساحل.",
        "أبقى البنك المركزي أسعار الفائدة دون تغيير، مشيرا إلى تراجع التضخم مع استمرار قوة سوق العمل.",
        "لتثبيت البرنامج شغّل ملف الإعداد ثم أضف مجلد bin إلى متغير المسار وأعد تشغيل الطرفية.",
        "افتتح المتحف جناحا جديدا يعرض عملات رومانية وأدوات برونزية ومطبخا أعيد بناؤه من فيلا قديمة قرب النهر.",
        "يغادر القطار إلى المطار كل عشرين دقيقة من الرصيف الرابع، ويمكن شراء التذاكر عبر التطبيق أو من الآلات.",
        "يجب على الطلاب تسليم المقال قبل يوم الجمعة، ويُخصم عشرة بالمئة من الدرجة عن كل يوم تأخير.",
        "سجّل التلسكوب منحنى الضوء لنجم بعيد عندما عبر كوكب أمامه فخفت ضوؤه بنسبة واحد بالمئة.",
        "اسقِ نباتات الطماطم في الصباح وأزل البراعم الجانبية وأضف السماد إلى التربة عند ظهور الثمار الأولى.",
    ],
    "hi": [
        "गुरुवार को उत्तरी इलाकों में भारी बारिश की संभावना है और तट पर साठ किलोमीटर प्रति घंटे तक की हवाएं चल सकती"
        " हैं।",
        "केंद्रीय बैंक ने ब्याज दरों में कोई बदलाव नहीं किया और कहा कि महंगाई कम हुई है लेकिन रोजगार बाजार मजबूत है।",
        "सॉफ्टवेयर इंस्टॉल करने के लिए सेटअप स्क्रिप्ट चलाएं, bin फ़ोल्डर को PATH में जोड़ें और टर्मिनल दोबारा खोलें।",
        "संग्रहालय की नई दीर्घा में रोमन सिक्के, कांसे के औज़ार और एक पुराने महल की रसोई प्रदर्शित की गई है।",
        "हवाई अड्डे के लिए ट्रेन हर बीस मिनट पर चार नंबर प्लेटफॉर्म से छूटती है और टिकट ऐप से खरीदे जा सकते हैं।",
        "विद्यार्थियों को शुक्रवार तक निबंध जमा करना होगा, देरी के हर दिन के लिए दस प्रतिशत अंक काटे जाएंगे।",
        "दूरबीन ने एक दूर के तारे की रोशनी दर्ज की, जब एक ग्रह उसके सामने से गुज़रा तो उसकी चमक एक प्रतिशत घट गई।",
        "सुबह टमाटर के पौधों को पानी दें, बगल की टहनियां तोड़ दें और पहले फल आने पर मिट्टी में खाद मिलाएं।",
    ],
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
        out += [{"text": t, "source": "written for this benchmark (weather, economy, software, travel, science)"}
                for t in MORE_WRITTEN[lang]]
        with (GENERAL / f"{lang}.jsonl").open("w", encoding="utf-8") as f:
            for row in out:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")


def apollo(part: str, lang: str) -> list[str]:
    rows = json.loads((SHARED / "apollo-medbench" / part / f"{lang}.json").read_text(encoding="utf-8"))
    return ["\n".join([r["question"], r["options"], str(r.get("answer", ""))]) for r in rows]


def pubmedqa() -> list[str]:
    rows = json.loads((SHARED / "pubmedqa" / "ori_pqal.json").read_text(encoding="utf-8")).values()
    return ["\n".join([r["QUESTION"], *r["CONTEXTS"], r["LONG_ANSWER"]]) for r in rows]


def judged(texts: list[str], sources: list[str], **options) -> list[bool]:
    """Kept or not, per text, by the relevance step (records named by their position) with these options."""
    records = [{"id": str(i), "source": src, "text": t, "meta": {}} for i, (t, src) in enumerate(zip(texts, sources))]
    kept = Relevance(Relevance.Config(**options)).apply(records).kept
    ids = {r["id"] for r in kept}
    return [str(i) in ids for i in range(len(texts))]


def report(name: str, texts: list[str], medical: bool) -> None:
    """Rejected share record by record (the lexicon alone) and by the step (its source judged too), and speed."""
    start = time.perf_counter()
    for t in texts:
        medical_score(t)
    cold = len(texts) / max(time.perf_counter() - start, 1e-9)
    start = time.perf_counter()
    for t in texts:
        medical_score(t)
    warm = len(texts) / max(time.perf_counter() - start, 1e-9)
    alone = judged(texts, [name] * len(texts), source_share=None)
    step = judged(texts, [name] * len(texts))
    rejected = [t for t, ok in zip(texts, step) if not ok]
    examples = " || ".join(t[:80].replace("\n", " | ") for t in rejected[:2]) if medical else ""
    print(f"{name:<22} n={len(texts):>5}  rejected record by record {rate(alone):5.1f}%  by the step "
          f"{rate(step):5.1f}%  {cold:>7.0f} rec/s cold {warm:>7.0f} warm  {examples}")


def rate(kept: list[bool]) -> float:
    return 100 * kept.count(False) / max(1, len(kept))


def mixed(lang: str, general: list[dict], share: float) -> None:
    """General text planted in a medical source, as a share of it: what a source-level judgement lets through,
    for the written paragraphs (cooking, sport, law, finance...) and the software messages apart."""
    medical = apollo("test", lang) if lang != "en" else apollo("dev", "en")
    planted = general[: int(len(medical) * share / (1 - share))]
    kept = judged(medical + [g["text"] for g in planted], ["mixed"] * (len(medical) + len(planted)))
    written = [k for g, k in zip(planted, kept[len(medical):]) if g["source"].startswith("written")]
    messages = [k for g, k in zip(planted, kept[len(medical):]) if not g["source"].startswith("written")]
    print(f"mixed {lang}: {len(planted)} general in {len(medical)} medical ({100 * share:.0f}%): kept "
          f"{100 * sum(written) / max(1, len(written)):.0f}% of {len(written)} written paragraphs, "
          f"{100 * sum(messages) / max(1, len(messages)):.0f}% of {len(messages)} software messages; medical "
          f"rejected {rate(kept[: len(medical)]):.1f}%")


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
    print("-- general-domain text rejected (higher is better), each file its own source")
    general = {}
    for path in sorted(GENERAL.glob("*.jsonl")):
        general[path.stem] = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
        report(f"general {path.stem}", [g["text"] for g in general[path.stem]], False)
    print("-- general text planted inside a medical source")
    for lang, rows in general.items():
        written = [g for g in rows if g["source"].startswith("written")]
        for share in (0.1, 0.3):  # the written paragraphs first, so a small share holds them all
            mixed(lang, written + [g for g in rows if g not in written], share)


if __name__ == "__main__":
    main()
