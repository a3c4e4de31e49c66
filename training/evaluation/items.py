"""Benchmark items: multiple-choice records read by the project's readers, duplicates counted once."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from curation.errors import MedcurateError
from curation.minhash import normalise
from curation.record import answer_labels


@dataclass
class Item:
    id: str
    benchmark: str
    question: str
    options: dict[str, str]
    answers: tuple[str, ...]  # sorted; more than one for multiple-answer items (CMExam, CMB 多选题)
    lang: str
    source: str
    context: str | None = None
    locator: str = ""

    @property
    def answer(self) -> str:
        """The correct labels as one string ('C', or 'ACE'): what a worked example shows after 'Answer:'."""
        return "".join(self.answers)

    @property
    def multi(self) -> bool:
        return len(self.answers) > 1


@dataclass
class Benchmark:
    name: str
    items: list[Item]
    read: int  # items in the file
    duplicates: int  # items dropped because their normalised question was seen before
    sampled_from: int | None = None  # items before --limit's seeded sample


def _detector():
    from curation.steps.langid import Langid, LangidConfig

    step = Langid(LangidConfig())
    return lambda text: step.detect(text)[0]


def read_items(path: str) -> list[Item]:
    """Every multiple-choice record of a file; anything else is an error naming the record."""
    from curation.io.reader import read_records

    if not Path(path).exists():
        raise MedcurateError(f"benchmark {path}: no such file or folder")
    detect = None
    items = []
    for rec in read_records(path):
        locator = rec["meta"].get("provenance", {}).get("locator", rec["id"])
        mcq = rec.get("mcq")
        if not mcq:
            raise MedcurateError(f"benchmark {path}, {locator}: not a multiple-choice item (field `mcq` is "
                                 f"missing; task {rec['task']})")
        lang = rec.get("lang")
        if not lang:
            detect = detect or _detector()
            lang = detect(mcq["question"])
        extra = rec["meta"].get("extra", {})
        items.append(Item(id=rec["id"], benchmark=Path(path).name, question=mcq["question"],
                          options=mcq["options"], answers=tuple(answer_labels(mcq)), lang=lang,
                          source=str(extra.get("source") or rec["source"]), context=mcq.get("context"),
                          locator=str(locator)))
    if not items:
        raise MedcurateError(f"benchmark {path}: no items")
    return items


def load_benchmark(path: str, limit: int | None = None, seed: int = 1) -> Benchmark:
    """Items in file order; a repeated question counts once, and `limit` takes a seeded sample."""
    items = read_items(path)
    seen: set[str] = set()
    unique = []
    for item in items:
        key = normalise((item.context or "") + "\n" + item.question)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    bench = Benchmark(Path(path).name, unique, len(items), len(items) - len(unique))
    if limit is not None and limit < len(unique):
        keep = sorted(random.Random(seed).sample(range(len(unique)), limit))
        bench.sampled_from, bench.items = len(unique), [unique[i] for i in keep]
    return bench


def pick_shots(dev: str, k: int, seed: int, exclude: set[str]) -> list[Item]:
    """k worked examples from the dev file, seeded; none may be a benchmark question.

    Only single-answer items serve as shots: the prompts ask for one letter, and a worked example that gave
    several would teach a different reply format.
    """
    pool = [it for it in read_items(dev) if not it.multi and normalise(it.question) not in exclude]
    if len(pool) < k:
        raise MedcurateError(f"dev file {dev}: {k} shots asked for, {len(pool)} usable items")
    return random.Random(seed).sample(pool, k)
