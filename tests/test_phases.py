"""Global steps in phases: both executors run a phased step (map, reduce, decide, finish) to the same bytes,
the ledger catches a phased step that loses, repeats or invents a record, and executors import no step."""

from __future__ import annotations

import ast
import json
import statistics
import sys
from pathlib import Path

import pytest

from curation.context import RunContext
from curation.executors.local import LocalExecutor
from curation.io.reader import SourceSpec
from curation.ledger import Ledger, LedgerMismatch
from curation.pipeline import run_steps
from curation.plan import PlannedSource, PlannedStep
from curation.record import make_record
from curation.steps.base import (
    Map,
    Phase,
    PhasedStep,
    Record,
    Reduce,
    Reject,
    Rejected,
    StepConfig,
    StepResult,
    answer_and_question,
)
from curation.storage import Location
from curation.workdir import WorkDir, file_digest, fingerprint

from .conftest import ROOT, qa, write_jsonl

# Per language: (question, a full answer, a curt answer). The curt one is under half its source's median.
QA = {
    "en": ("What is the first-line treatment for anaphylaxis?",
           "Intramuscular adrenaline 0.5 mg into the anterolateral thigh, repeated after five minutes if needed.",
           "Adrenaline."),
    "es": ("¿Cuál es el tratamiento inicial de la cetoacidosis diabética?",
           "Sueroterapia intensiva con suero salino, insulina intravenosa en perfusión y reposición de potasio.",
           "Insulina."),
    "zh": ("急性心肌梗死的典型心电图表现是什么？",
           "典型表现为相关导联ST段抬高，随后出现病理性Q波和T波倒置，对应导联可见ST段压低。",
           "ST段抬高。"),
    "ar": ("ما هو العلاج الأولي لنوبة الربو الحادة؟",
           "استنشاق موسعات الشعب الهوائية قصيرة المفعول مثل السالبوتامول مع الأكسجين والكورتيكوستيرويدات الجهازية.",
           "سالبوتامول."),
    "fr": ("Quel est le traitement de première intention de l'hypertension artérielle ?",
           "Un diurétique thiazidique, un IEC, un ARA II ou un inhibiteur calcique, selon l'âge et les comorbidités.",
           "Un IEC."),
    "hi": ("टाइप 2 मधुमेह की पहली पंक्ति की दवा कौन सी है?",
           "आमतौर पर मेटफॉर्मिन से शुरुआत की जाती है, साथ में आहार में बदलाव और नियमित व्यायाम की सलाह दी जाती है।",
           "मेटफॉर्मिन।"),
}


class ShortAnswerConfig(StepConfig):
    ratio: float = 0.5
    report: str | None = None
    broken: str | None = None  # "lose", "repeat", "invent" or "orphan": a deliberately wrong decision


class ShortAnswer(PhasedStep):
    """Rejects answers shorter than `ratio` times the median answer of their source: the median needs every
    record of the source, so it is a reduce over a map of (source, length) rows."""

    name = "short-answer"
    Config = ShortAnswerConfig
    config: ShortAnswerConfig

    def phases(self) -> list[Phase]:
        return [Map("lengths"), Reduce("medians")]

    def shard_rows(self) -> int:
        return 4  # several shards in this process too

    def lengths(self, state: None, shard: int, records: list[Record]) -> list[tuple[str, int]]:
        return [(r["source"], len(answer_and_question(r)[0])) for r in records]

    def medians(self, state: None, tables: list[tuple[int, list[tuple[str, int]]]]) -> dict[str, float]:
        by_source: dict[str, list[int]] = {}
        for _, rows in tables:
            for source, n in rows:
                by_source.setdefault(source, []).append(n)
        return {source: statistics.median(ns) for source, ns in sorted(by_source.items())}

    def decide(self, state: dict[str, float], shard: int, records: list[Record]) -> StepResult:
        kept, rejected = [], []
        for r in records:
            n, median = len(answer_and_question(r)[0]), state[r["source"]]
            if n < self.config.ratio * median:
                rejected.append((r, Reject("short for its source", {"chars": n, "median": median})))
            else:
                kept.append(r)
        return self.break_(kept, rejected)

    def break_(self, kept: list[Record], rejected: Rejected) -> StepResult:
        if self.config.broken == "lose" and kept:
            return StepResult(kept[1:], rejected)
        if self.config.broken == "repeat" and kept:
            return StepResult(kept + kept[:1], rejected)
        if self.config.broken == "invent" and kept:  # a new record the step does not declare
            return StepResult(kept + [{**kept[0], "id": "invented-" + kept[0]["id"]}], rejected)
        if self.config.broken == "orphan" and kept:  # declared, but its parent is no input of the step
            orphan = {**kept[0], "id": "invented-" + kept[0]["id"], "parent_id": "nowhere"}
            return StepResult(kept + [orphan], rejected, [orphan])
        return StepResult(kept, rejected)

    def finish(self, state: dict[str, float]) -> None:
        if self.config.report:
            Path(self.config.report).write_text(json.dumps(state, ensure_ascii=False, sort_keys=True) + "\n")


def corpus(folder: Path) -> list[PlannedSource]:
    """One source per language: four full answers and one curt one each."""
    folder.mkdir(parents=True, exist_ok=True)
    work = WorkDir(Location.of(folder / "work"))
    work.check(create=True)
    sources = []
    for lang, (q, full, curt) in QA.items():
        rows = [qa(f"{q} ({k})", f"{full} ({k})") for k in range(4)] + [qa(q, curt)]
        path = write_jsonl(folder / f"{lang}.jsonl", rows)
        spec = SourceSpec(path=str(path), license="CC-BY-4.0")
        fp = fingerprint("read", lang, file_digest(path))
        sources.append(PlannedSource(spec, file_digest(path), fp, work.read_entry(spec.source_name(), fp)))
    return sources


def run_with(executor, folder: Path, options: dict) -> PlannedStep:
    """The step over the corpus by `executor`, as a recipe's step with id 'curt'."""
    sources = corpus(folder)
    work = WorkDir(Location.of(folder / "work"))
    executor.read(sources, work, None)
    step = ShortAnswer(ShortAnswerConfig(report=str(folder / "medians.json"), **options))
    fp = fingerprint("step", options)
    planned = PlannedStep(0, "curt", "short-answer", fp, work.step_entry(0, "curt", fp), options, [], [])
    try:
        executor.run_step(planned, step, RunContext(workers=2), [s.entry for s in sources], work, {}, None)
    finally:
        executor.close()
    return planned


def records() -> list[Record]:
    """Per language, three full answers and a curt one, ids naming the language."""
    return [make_record(lang, "instruction", lang=lang, id=f"{lang}-{k}",
                        messages=[{"role": "user", "content": q}, {"role": "assistant", "content": a}])
            for lang, (q, full, curt) in QA.items() for k, a in enumerate([full, full, full, curt])]


def test_a_phased_step_rejects_across_shards_and_writes_its_report(tmp_path):
    report = tmp_path / "medians.json"
    kept = run_steps(records(), [ShortAnswer(ShortAnswerConfig(report=str(report)))], rejects=None,
                     ledger=(ledger := Ledger()), workers=2)
    assert [r["id"] for r in kept] == [f"{lang}-{k}" for lang in QA for k in range(3)]
    counts = ledger.to_dict()["short-answer"]
    assert counts["rejected"] == len(QA) and counts["reasons"] == {"short for its source": len(QA)}
    medians = json.loads(report.read_text())
    assert sorted(medians) == sorted(QA) and medians["zh"] == len(QA["zh"][1])


@pytest.mark.parametrize("broken, message", [("lose", "lost"), ("repeat", "returned 2 times"),
                                             ("invent", "neither an input nor declared as added"),
                                             ("orphan", "without naming an input as its parent")])
def test_the_ledger_catches_a_phased_step_that_loses_repeats_or_invents_a_record(broken, message):
    step = ShortAnswer(ShortAnswerConfig(broken=broken))
    with pytest.raises(LedgerMismatch, match=f"step 'curt': record (invented-)?[a-z]+-[0-9] .*{message}"):
        run_steps(records(), [step], rejects=None, ledger=Ledger(), names=["curt"])


def test_executors_import_no_step_and_no_run_module():
    """Executors run phases: they import the step interface (`steps.base`) and the plan, never a step's
    module, nor `run`, which imports them."""
    for path in sorted((ROOT / "curation" / "executors").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 2 and node.module:
                assert node.module != "run", f"{path.name} imports curation.run"
                assert not node.module.startswith("steps.") or node.module == "steps.base", \
                    f"{path.name} imports {node.module}"


@pytest.fixture(scope="module")
def ray_instance():
    ray = pytest.importorskip("ray")
    # the toy step lives in this test module, which Ray's workers cannot import: send it by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_both_executors_run_a_phased_step_to_the_same_bytes(tmp_path, ray_instance):
    from curation.executors.config import ExecutorConfig
    from curation.executors.ray_executor import RayExecutor

    local = run_with(LocalExecutor(), tmp_path / "local", {})
    on_ray = run_with(RayExecutor(ExecutorConfig(type="ray")), tmp_path / "ray", {})
    assert on_ray.entry.table().equals(local.entry.table())
    assert on_ray.entry.table().num_rows == 4 * len(QA)
    assert on_ray.entry.rejects_path.read_bytes() == local.entry.rejects_path.read_bytes()
    assert on_ray.entry.ledger() == local.entry.ledger()
    assert on_ray.entry.ledger()["curt"]["reasons"] == {"short for its source": len(QA)}
    # finish ran after the last phase on Ray too: the report is the local one
    assert (tmp_path / "ray" / "medians.json").read_text() == (tmp_path / "local" / "medians.json").read_text()


def test_the_ledger_catches_a_phased_step_that_loses_a_record_on_ray(tmp_path, ray_instance):
    from curation.executors.config import ExecutorConfig
    from curation.executors.ray_executor import RayExecutor

    with pytest.raises(Exception, match=r"step 'curt': record [0-9a-f]+ lost"):
        run_with(RayExecutor(ExecutorConfig(type="ray")), tmp_path, {"broken": "lose"})
