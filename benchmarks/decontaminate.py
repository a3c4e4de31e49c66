"""Benchmark decontamination: recall on benchmark items hidden in training instructions, false removals of
clean medical instructions, and speed, for the decontaminate step and the implementation it replaced.

Run: .venv/bin/python benchmarks/decontaminate.py [--data ../shared/data] [--split report|calibrate]
     [--per 100] [--clean 3000] [--records 100000]

The index is every benchmark under --data (Apollo MedBench dev and test, every language, and PubMedQA: about
16k items). Items are hidden four ways, in English (PubMedQA and Apollo en), Chinese and Spanish (Apollo):
  wrapped     the question (with its options, for multiple-choice items) inside a longer instruction
  recased     the same, lower-cased, punctuation removed or changed, spacing and character width changed
  passage     the item's context passage pasted as the instruction (PubMedQA); for multiple-choice items,
              which have none, the question with its correct answer as the instruction
  answer      the long answer pasted into a question (PubMedQA); for multiple-choice items the question and
              its correct answer written as the assistant's reply
`--split calibrate` hides dev items and PubMedQA items 1-500 (and the first half of Apollo's English dev
file, as Apollo has no English test file); `--split report` hides test items, PubMedQA 501-1000 and the
second half of Apollo's English dev file. Clean records are medical instructions from templates written for
this benchmark (symptoms, diagnosis, drugs, dosing, exam-style phrasing) in the three languages, plus the
project's sample conversations. The baseline is the step as it was at BASELINE_REV, loaded from git at run
time. Speed: --records records (clean, with 1% hidden items) against the whole index, each implementation in
a fresh process, reporting index build time, records/s of the matching and peak memory.
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import json
import pickle
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from curation.io.reader import read_records  # noqa: E402
from curation.record import answer_labels, make_record  # noqa: E402

BASELINE_REV = "53a4fc1bb86c7d2382c5e0c8228ab8688c364862"
WAYS = ("wrapped", "recased", "passage", "answer")

WRAP = {
    "en": (["Please answer the following question and explain your reasoning.\n\n", "I'm revising for my exams. ",
            "Can you help me with this one? ", "Question from my pharmacology class: ", "Quick check:\n"],
           ["\nThink step by step.", " Thanks!", "\nGive a short justification.", "", " Which one and why?"]),
    "es": (["Responde a la siguiente pregunta y explica tu razonamiento.\n\n", "Estoy preparando el MIR. ",
            "¿Me ayudas con esta pregunta? ", "Pregunta de mi clase de farmacología: "],
           [" Gracias.", "\nRazona la respuesta.", "", " ¿Cuál y por qué?"]),
    "zh": (["请回答下面的问题并说明理由。\n", "我在准备执业医师考试，", "帮我看看这道题：", "药理课上的题目："],
           ["谢谢！", "\n请一步一步分析。", "", "选哪个，为什么？"]),
}
PASSAGE_ASK = {"en": ["\n\nSummarise the main findings of this study.", "\n\nWhat does this abstract conclude?",
                      "\n\nRewrite this for a patient leaflet."],
               "es": ["\n\nExplica por qué esta es la respuesta correcta.", "\n\nResume este punto para estudiar."],
               "zh": ["\n请解释为什么这是正确答案。", "\n帮我总结这个知识点。"]}
ANSWER_ASK = {"en": ["Give me a practice exam question on this topic with its answer.",
                     "Write a revision flashcard for a medical student."],
              "es": ["Dame una pregunta de examen de práctica con su respuesta.", "Escribe una tarjeta de repaso."],
              "zh": ["给我出一道练习题，并附上答案。", "写一张复习卡片。"]}
ANSWER_LABEL = {"en": "Answer", "es": "Respuesta", "zh": "答案"}
ANSWER_LEAD = {"en": ["A colleague concluded: \"{a}\" Do you agree with this conclusion?",
                      "Is it true that {a} What would change clinical practice?",
                      "My supervisor wrote that {a} Can you explain what this means for patients?"]}


# --- the items to hide -------------------------------------------------------------------------------------

def benchmark_files(data: Path) -> list[str]:
    return sorted(glob.glob(str(data / "apollo-medbench" / "*" / "*.json"))) + [str(data / "pubmedqa" /
                                                                                   "ori_pqal.json")]


def planted_sources(data: Path, split: str) -> dict[tuple[str, str], list[dict]]:
    """(language, source) -> the benchmark records whose items are hidden, for this split."""
    apollo = data / "apollo-medbench"
    part = "dev" if split == "calibrate" else "test"
    pubmed = list(read_records(str(data / "pubmedqa" / "ori_pqal.json")))
    en = list(read_records(str(apollo / "dev" / "en.json")))
    half = len(en) // 2
    return {
        ("en", "pubmedqa"): pubmed[:500] if split == "calibrate" else pubmed[500:],
        ("en", "apollo"): en[:half] if split == "calibrate" else en[half:],
        ("zh", "apollo"): list(read_records(str(apollo / part / "zh.json"))),
        ("es", "apollo"): list(read_records(str(apollo / part / "es.json"))),
    }


def render_options(options: dict[str, str], rng: random.Random) -> str:
    style = rng.randrange(4)
    if style == 0:
        return "\n".join(f"{k}. {v}" for k, v in options.items())
    if style == 1:
        return " ".join(f"({k}) {v}" for k, v in options.items())
    if style == 2:
        return "; ".join(f"{k}) {v}" for k, v in options.items())
    return "\n".join(f"{k.lower()}: {v}" for k, v in options.items())


FULL_WIDTH = {c: chr(ord(c) + 0xFEE0) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"}
ZH_PUNCT = str.maketrans({"，": ",", "。": ".", "：": ":", "？": "?", "（": "(", "）": ")", "、": ","})


def recase(text: str, lang: str, rng: random.Random) -> str:
    """Lower-cased, punctuation dropped or changed, spacing changed; for Chinese also width changes."""
    text = text.lower()
    style = rng.randrange(3)
    if style == 0:
        text = re.sub(r"[^\w\s]", "", text)
    elif style == 1:
        text = re.sub(r"[?¿!¡]", ".", re.sub(r"[,:;]", " -", text))
    else:
        text = re.sub(r"[.,;:]+", " ", text)
    if lang == "zh":
        text = text.translate(ZH_PUNCT) if rng.random() < 0.5 else "".join(FULL_WIDTH.get(c, c) for c in text)
    return re.sub(r"\s+", lambda m: rng.choice([" ", "  ", "\n"]), text).strip()


def correct_text(mcq: dict) -> str:
    return " / ".join(mcq["options"][k] for k in answer_labels(mcq) if k in mcq["options"])


def plant(rec: dict, way: str, lang: str, source: str, rng: random.Random) -> dict:
    """One training record hiding this benchmark item in the given way."""
    mcq = rec["mcq"]
    q = mcq["question"].strip()
    stem = q if source == "pubmedqa" else f"{q}\n{render_options(mcq['options'], rng)}"
    pre, post = WRAP[lang]
    if way in ("wrapped", "recased"):
        body = stem if way == "wrapped" else recase(stem, lang, rng)
        user, reply = rng.choice(pre) + body + rng.choice(post), "Let us go through the options one by one."
    elif way == "passage":
        if source == "pubmedqa":
            passages = [p for p in mcq["context"].split("\n") if len(p.split()) >= 20] or [mcq["context"]]
            user = rng.choice(passages + [mcq["context"]]) + rng.choice(PASSAGE_ASK[lang])
        else:
            user = f"{q} {correct_text(mcq)}" + rng.choice(PASSAGE_ASK[lang])
        reply = "Here is a short summary."
    else:
        if source == "pubmedqa":
            user = rng.choice(ANSWER_LEAD["en"]).format(a=mcq["explanation"].strip())
            reply = "The conclusion follows from the reported results."
        else:
            user = rng.choice(ANSWER_ASK[lang])
            reply = f"{q}\n{ANSWER_LABEL[lang]}: {correct_text(mcq)}"
    return make_record("planted", "instruction", messages=[{"role": "user", "content": user},
                                                           {"role": "assistant", "content": reply}])


# --- clean medical instructions ----------------------------------------------------------------------------

VOCAB = {
    "en": {
        "d": ["type 2 diabetes", "hypertension", "community-acquired pneumonia", "asthma", "chronic kidney disease",
              "atrial fibrillation", "heart failure", "migraine", "iron deficiency anaemia", "hypothyroidism",
              "rheumatoid arthritis", "gout", "COPD", "a urinary tract infection", "major depression",
              "osteoporosis", "psoriasis", "peptic ulcer disease", "epilepsy", "Parkinson's disease", "sepsis",
              "deep vein thrombosis", "gestational diabetes", "pre-eclampsia", "bronchiolitis", "otitis media",
              "cellulitis", "acute pancreatitis", "hepatitis B", "tuberculosis", "malaria", "dengue fever",
              "coeliac disease", "Crohn's disease", "glaucoma", "shingles", "generalised anxiety disorder",
              "obstructive sleep apnoea", "kidney stones", "Kawasaki disease", "myasthenia gravis"],
        "m": ["metformin", "amlodipine", "amoxicillin", "salbutamol", "atorvastatin", "warfarin", "apixaban",
              "levothyroxine", "omeprazole", "ibuprofen", "paracetamol", "prednisolone", "furosemide",
              "lisinopril", "sertraline", "insulin glargine", "methotrexate", "allopurinol", "doxycycline",
              "levetiracetam", "empagliflozin", "ceftriaxone"],
        "p": ["a 65-year-old man", "a pregnant woman at 28 weeks", "a 4-year-old child", "an elderly patient",
              "a patient with renal impairment", "a 30-year-old runner", "a smoker aged 50", "a breastfeeding mother",
              "a teenager", "a nursing home resident"],
        "u": ["What are the common symptoms of {d}?", "How is {d} diagnosed in {p}?",
              "What is the first-line treatment for {d} in {p}?", "Can {p} take {m}? What should be monitored?",
              "Explain how {m} works and list its main side effects.", "What lifestyle changes help with {d}?",
              "A patient with {d} asks whether {m} interacts with alcohol. How would you answer?",
              "Which of the following is the most likely diagnosis in {p} with fever and a cough?",
              "Summarise current guidance on screening for {d}.", "What are the complications of untreated {d}?",
              "List the differential diagnosis of {d} in {p}.", "What is the usual dose of {m} for {p}?",
              "How does {d} differ from {d2}?", "Write a short patient leaflet about {d}.",
              "Which of the following statements about {d} is true?", "What is the most common cause of {d}?",
              "When should {p} with {d} be referred to hospital?", "Is {m} safe for {p}?"],
        "a": ["{D} is usually managed with lifestyle measures and, where needed, {m}.",
              "Symptoms should be reviewed after two to four weeks and treatment adjusted.",
              "Kidney function and blood pressure should be checked before starting {m}.",
              "Urgent assessment is needed if breathing worsens or confusion develops.",
              "In {p}, doses may need to be reduced and interactions checked.",
              "The diagnosis rests on the history, examination and a few targeted tests.",
              "Patients should be told about common side effects such as nausea or dizziness.",
              "Follow-up depends on severity, comorbidities and response to treatment.",
              "{D2} can look similar, so it should be considered in the differential diagnosis."],
    },
    "es": {
        "d": ["la diabetes tipo 2", "la hipertensión arterial", "la neumonía adquirida en la comunidad", "el asma",
              "la enfermedad renal crónica", "la fibrilación auricular", "la insuficiencia cardiaca", "la migraña",
              "la anemia ferropénica", "el hipotiroidismo", "la artritis reumatoide", "la gota", "la EPOC",
              "una infección urinaria", "la depresión mayor", "la osteoporosis", "la psoriasis", "la úlcera péptica",
              "la epilepsia", "la enfermedad de Parkinson", "la sepsis", "la trombosis venosa profunda",
              "la diabetes gestacional", "la preeclampsia", "la bronquiolitis", "la otitis media", "la celulitis",
              "la pancreatitis aguda", "la hepatitis B", "la tuberculosis", "el dengue", "la enfermedad celíaca"],
        "m": ["metformina", "amlodipino", "amoxicilina", "salbutamol", "atorvastatina", "acenocumarol", "apixabán",
              "levotiroxina", "omeprazol", "ibuprofeno", "paracetamol", "prednisona", "furosemida", "enalapril",
              "sertralina", "insulina glargina", "metotrexato", "alopurinol", "doxiciclina", "levetiracetam"],
        "p": ["un varón de 65 años", "una embarazada de 28 semanas", "un niño de 4 años", "un paciente anciano",
              "un paciente con insuficiencia renal", "una corredora de 30 años", "un fumador de 50 años",
              "una madre lactante", "un adolescente"],
        "u": ["¿Cuáles son los síntomas más frecuentes de {d}?", "¿Cómo se diagnostica {d} en {p}?",
              "¿Cuál es el tratamiento de primera línea de {d} en {p}?",
              "¿Puede tomar {m} {p}? ¿Qué hay que vigilar?",
              "Explica cómo actúa {m} y sus principales efectos adversos.",
              "¿Qué cambios de estilo de vida ayudan en {d}?",
              "Un paciente con {d} pregunta si {m} interacciona con el alcohol. ¿Qué le dirías?",
              "¿Cuál de los siguientes es el diagnóstico más probable en {p} con fiebre y tos?",
              "Resume las recomendaciones actuales sobre el cribado de {d}.",
              "¿Qué complicaciones tiene {d} sin tratar?", "Señale la respuesta correcta sobre {d}:",
              "¿Cuál es la dosis habitual de {m} para {p}?", "¿En qué se diferencia {d} de {d2}?",
              "Escribe un folleto breve para pacientes sobre {d}.", "¿Cuándo debe derivarse al hospital {p} con {d}?"],
        "a": ["{D} se trata habitualmente con medidas higiénico-dietéticas y, si hace falta, con {m}.",
              "Conviene revisar los síntomas a las dos o cuatro semanas y ajustar el tratamiento.",
              "Antes de iniciar {m} hay que comprobar la función renal y la tensión arterial.",
              "Se necesita valoración urgente si empeora la respiración o aparece confusión.",
              "En {p} puede ser necesario reducir la dosis y revisar las interacciones.",
              "El diagnóstico se basa en la anamnesis, la exploración y algunas pruebas dirigidas.",
              "Hay que informar de los efectos adversos frecuentes, como náuseas o mareo.",
              "{D2} puede parecerse, por lo que debe incluirse en el diagnóstico diferencial."],
    },
    "zh": {
        "d": ["2型糖尿病", "高血压", "社区获得性肺炎", "支气管哮喘", "慢性肾脏病", "心房颤动", "心力衰竭", "偏头痛",
              "缺铁性贫血", "甲状腺功能减退症", "类风湿关节炎", "痛风", "慢性阻塞性肺疾病", "尿路感染", "抑郁症",
              "骨质疏松症", "银屑病", "消化性溃疡", "癫痫", "帕金森病", "脓毒症", "深静脉血栓形成", "妊娠期糖尿病",
              "子痫前期", "毛细支气管炎", "中耳炎", "急性胰腺炎", "乙型肝炎", "肺结核", "登革热", "带状疱疹"],
        "m": ["二甲双胍", "氨氯地平", "阿莫西林", "沙丁胺醇", "阿托伐他汀", "华法林", "阿哌沙班", "左甲状腺素",
              "奥美拉唑", "布洛芬", "对乙酰氨基酚", "泼尼松", "呋塞米", "依那普利", "舍曲林", "甘精胰岛素", "甲氨蝶呤",
              "别嘌醇", "多西环素", "左乙拉西坦"],
        "p": ["65岁男性", "妊娠28周的孕妇", "4岁儿童", "老年患者", "肾功能不全的患者", "30岁的跑步爱好者",
              "50岁的吸烟者", "哺乳期妇女", "青少年"],
        "u": ["{d}的常见症状有哪些？", "{p}的{d}如何诊断？", "{p}患{d}的一线治疗是什么？",
              "{p}可以服用{m}吗？需要监测什么？",
              "请解释{m}的作用机制和主要不良反应。", "哪些生活方式的改变有助于控制{d}？",
              "一位{d}患者问{m}会不会和酒精相互作用，应该怎么回答？", "{p}发热咳嗽，最可能的诊断是什么？",
              "请总结目前关于{d}筛查的建议。", "{d}不治疗会有哪些并发症？", "下列关于{d}的叙述，正确的是",
              "{m}对{p}的常用剂量是多少？", "{d}和{d2}有什么区别？", "请写一段关于{d}的患者教育材料。",
              "{p}患{d}时什么情况下需要转诊住院？"],
        "a": ["{D}通常先进行生活方式干预，必要时使用{m}。", "应在两到四周后复查症状并调整治疗。",
              "开始使用{m}前应检查肾功能和血压。", "如果呼吸困难加重或出现意识模糊，需要紧急就医。",
              "{p}可能需要减少剂量并注意药物相互作用。", "诊断主要依据病史、体格检查和有针对性的检查。",
              "应告知患者常见的不良反应，如恶心或头晕。", "{D2}的表现可能相似，应纳入鉴别诊断。"],
    },
}


def clean_record(lang: str, rng: random.Random) -> dict:
    """A medical instruction from templates: a question and a reply of three to seven sentences."""
    v = VOCAB[lang]
    d, d2 = rng.sample(v["d"], 2)
    fill = {"d": d, "d2": d2, "m": rng.choice(v["m"]), "p": rng.choice(v["p"]), "D": d[:1].upper() + d[1:],
            "D2": d2[:1].upper() + d2[1:]}
    user = rng.choice(v["u"]).format(**fill)
    sep = "" if lang == "zh" else " "
    reply = sep.join(s.format(**fill) for s in rng.sample(v["a"], rng.randint(3, min(7, len(v["a"])))))
    return make_record("clean", "instruction", lang=lang, messages=[{"role": "user", "content": user},
                                                                    {"role": "assistant", "content": reply}])


def sample_conversations() -> list[dict]:
    """The project's sample conversations (not benchmark items: the MCQ and PubMedQA-shaped samples are left
    out, as they are exam items themselves)."""
    out = []
    for path in sorted((ROOT / "recipes" / "data").iterdir()):
        if path.suffix in (".py", ".md") or path.name.startswith(("mcq_", "pubmedqa", "apollo", "planted")):
            continue
        out += [r for r in read_records(str(path)) if r.get("messages") or r.get("text")]
    return out


# --- implementations --------------------------------------------------------------------------------------

def load_step(impl: str, files: list[str]):
    """The step as it is now, or as it was at BASELINE_REV (its source from git, run as a module of the
    package so its relative imports resolve)."""
    if impl == "new":
        from curation.steps.decontaminate import Decontaminate
        return Decontaminate.from_dict({"benchmarks": files})
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{BASELINE_REV}:curation/steps/decontaminate.py"],
                            check=True, capture_output=True, text=True).stdout
    spec = importlib.util.spec_from_loader("curation.steps._decontaminate_baseline", loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "curation.steps"
    sys.modules[spec.name] = module  # dataclasses look their module up
    from curation.steps.base import STEPS, get_step

    current = get_step("decontaminate")
    exec(compile(source, "baseline_decontaminate.py", "exec"), module.__dict__)
    STEPS["decontaminate"] = current  # the baseline registered itself under the same name
    return module.Decontaminate.from_dict({"benchmarks": files})


def decide(impl: str, files: list[str], records: list[dict]) -> tuple[dict[str, str], float, float, int]:
    """Reject reason per record id, index build seconds, matching seconds, records rejected."""
    step = load_step(impl, files)
    t0 = time.perf_counter()
    state = step.prepare()
    t1 = time.perf_counter()
    rejected = step.apply_shard(state, records).rejected
    t2 = time.perf_counter()
    return {r["id"]: rej.reason for r, rej in rejected}, t1 - t0, t2 - t1, len(rejected)


def speed_worker(impl: str, files_json: str, records_path: str) -> None:
    records = pickle.loads(Path(records_path).read_bytes())
    _, build, matching, rejected = decide(impl, json.loads(files_json), records)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"build_s": build, "match_s": matching, "rejected": rejected, "peak_mib": peak}))


# --- the run ----------------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--split", choices=("report", "calibrate"), default="report")
    ap.add_argument("--per", type=int, default=100, help="Hidden items per way, language and source.")
    ap.add_argument("--clean", type=int, default=3000, help="Clean templated records per language.")
    ap.add_argument("--records", type=int, default=100_000, help="Records for the speed run (0: none).")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--show", action="store_true", help="Print every missed hidden item and removed clean record.")
    ap.add_argument("--speed-worker", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.speed_worker:
        speed_worker(*args.speed_worker)
        return
    data = Path(args.data)
    files = benchmark_files(data)
    rng = random.Random(args.seed)
    planted, truth = [], {}
    for (lang, source), recs in planted_sources(data, args.split).items():
        for way in WAYS:
            for rec in rng.sample(recs, min(args.per, len(recs))):
                r = plant(rec, way, lang, source, rng)
                planted.append(r)
                truth[r["id"]] = (way, lang, source)
    clean = [clean_record(lang, rng) for lang in ("en", "es", "zh") for _ in range(args.clean)]
    clean += sample_conversations()
    clean_lang = {r["id"]: r.get("lang") or "sample" for r in clean}
    records = planted + clean
    impls = ["new"] if args.no_baseline else ["new", "baseline"]
    print(f"index: {len(files)} benchmark files under {data}; hidden: {len(planted)} ({args.split} split); "
          f"clean: {len(clean)}")
    results = {impl: decide(impl, files, records)[0] for impl in impls}
    print("\n| way | language | source | items | " + " | ".join(f"recall {i}" for i in impls) + " |")
    print("|---|---|---|---:|" + "---:|" * len(impls))
    groups = defaultdict(list)
    for rid, key in truth.items():
        groups[key].append(rid)
    for way in WAYS:
        for key in sorted(k for k in groups if k[0] == way):
            ids = groups[key]
            cells = " | ".join(f"{sum(i in results[m] for i in ids) / len(ids):.1%}" for m in impls)
            print(f"| {key[0]} | {key[1]} | {key[2]} | {len(ids)} | {cells} |")
    for m in impls:
        hit = sum(i in results[m] for i in truth)
        reasons = dict(Counter(results[m].get(i, 'kept') for i in truth))
        print(f"{m}: overall recall {hit / len(truth):.1%}; {reasons}")
    print("\n| clean records | count | " + " | ".join(f"removed {i}" for i in impls) + " |")
    print("|---|---:|" + "---:|" * len(impls))
    by_lang = defaultdict(list)
    for rid, lang in clean_lang.items():
        by_lang[lang].append(rid)
    for lang, ids in sorted(by_lang.items()) + [("all", list(clean_lang))]:
        cells = " | ".join(f"{sum(i in results[m] for i in ids)} ({sum(i in results[m] for i in ids) / len(ids):.2%})"
                           for m in impls)
        print(f"| {lang} | {len(ids)} | {cells} |")
    if args.show:
        for r in (r for r in clean if r["id"] in results["new"]):
            print("  removed clean:", results["new"][r["id"]], repr(r["messages"][0]["content"][:100]))
        for r in (r for r in planted if r["id"] not in results["new"]):
            print("  missed:", truth[r["id"]], repr(" || ".join(m["content"][:150] for m in r["messages"])))
    hard_negatives(data, args.split, impls)
    if args.records:
        speed(args, files, planted, rng, impls)


def hard_negatives(data: Path, split: str, impls: list[str]) -> None:
    """PubMedQA items of the other half, as instructions, against an index holding only the hidden half of
    PubMedQA: distinct studies that share the field's phrasing, so every removal is a false one. (Apollo's
    English file is left out of this index: it holds PubMedQA questions, so its matches would be true.)"""
    raw = json.loads((data / "pubmedqa" / "ori_pqal.json").read_text(encoding="utf-8"))
    keys = list(raw)
    indexed, other = (keys[:500], keys[500:]) if split == "calibrate" else (keys[500:], keys[:500])
    with tempfile.TemporaryDirectory() as tmp:
        half = Path(tmp) / "pubmedqa_half.json"
        half.write_text(json.dumps({k: raw[k] for k in indexed}), encoding="utf-8")
        index_files = [str(half)]
        records = [make_record("negative", "instruction", messages=[
            {"role": "user", "content": "\n".join(raw[k]["CONTEXTS"]) + "\n\n" + raw[k]["QUESTION"]},
            {"role": "assistant", "content": raw[k]["LONG_ANSWER"]}]) for k in other]
        cells = []
        for impl in impls:
            removed = decide(impl, index_files, records)[0]
            cells.append(f"{len(removed)} ({len(removed) / len(records):.2%})")
    print(f"\nhard negatives: {len(records)} PubMedQA items not in the index (context + question, long answer) "
          f"removed: " + ", ".join(f"{i} {c}" for i, c in zip(impls, cells)))


def speed(args, files: list[str], planted: list[dict], rng: random.Random, impls: list[str]) -> None:
    n_planted = args.records // 100
    recs = [rng.choice(planted) for _ in range(n_planted)]
    recs += [clean_record(rng.choice(("en", "es", "zh")), rng) for _ in range(args.records - n_planted)]
    rng.shuffle(recs)
    print(f"\nspeed: {len(recs):,} records ({n_planted:,} hidden items) against {len(files)} benchmark files, "
          "each implementation in a fresh process")
    print("| implementation | index build s | matching s | records/s | rejected | peak MiB |")
    print("|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "records.pkl"
        path.write_bytes(pickle.dumps(recs))
        for impl in impls:
            out = subprocess.run([sys.executable, __file__, "--speed-worker", impl, json.dumps(files), str(path)],
                                 check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(f"| {impl} | {r['build_s']:.1f} | {r['match_s']:.1f} | {len(recs) / r['match_s']:,.0f} | "
                  f"{r['rejected']:,} | {r['peak_mib']:,.0f} |")


if __name__ == "__main__":
    main()
