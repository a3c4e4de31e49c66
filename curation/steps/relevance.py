"""relevance: drop records that are not medical, judging each record in the light of the source it came from.

A record's medical score (`curation.relevance`: medical terms per 100 words, the length floored at 30 words)
says how much medical vocabulary it holds, and most records decide on it alone. But a term list cannot see
that a curated medical source is medical as a whole: licensing and exam sets (MedMCQA, HeadQA, CMExam, MMLU's
medical subjects) hold short items on the chemistry, physics, statistics, ecology, economics and sport science
that medical curricula teach ("A plant that grows along a trellis exhibits ...", "Father of statistics"), and
a short item on them has no medical word at all. Judged alone, such items are indistinguishable from general
text, so a record-level filter either keeps general text or throws away several percent of every exam set.

So the step looks at each source as a whole first (a map phase scores every record; a reduce phase counts, per
source, the share of records that clear `min_score`). A source of at least `min_source_records` records of
which at least `source_share` clear it is a medical source. There a record below `min_score` is rejected on
evidence, not for want of it: when it holds `min_general_terms` distinct words of cooking, sport, law, finance
or software (`curation/data/general_lexicon.tsv`: a recipe or a football report planted in a medical QA set),
or when it is long (over `short_words` words) and has less than `source_min_score` (a cookie notice or site
navigation in a health crawl). A short item with neither medical nor other-domain words stays. Everywhere
else each record needs `min_score`: a general instruction set or web crawl, where medical records are a
minority, is filtered record by record. `source_share: null` judges every record alone.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import Field

from ..context import RunContext
from ..relevance import DATA, DEFAULT_MIN_SCORE, LEXICON, general_terms, scan_score
from ..relevance import GENERAL_LEXICON as GENERAL
from .base import FILES, Map, Phase, PhasedStep, Record, Reduce, Reject, StepConfig, StepResult, register, texts_of


class RelevanceConfig(StepConfig):
    min_score: float = Field(DEFAULT_MIN_SCORE, ge=0, description=(
        "Medical terms per 100 words (the length floored at 30 words, so a short exam item needs one clear term) "
        "a record needs outside a medical source."))
    source_share: float | None = Field(0.5, gt=0, le=1, description=(
        "A source in which at least this share of records clear min_score is a medical source, judged more "
        "leniently; null judges every record alone."))
    min_source_records: int = Field(20, ge=1, description="Fewer records than this say too little about a source.")
    short_words: int = Field(200, ge=0, description="In a medical source, records of at most this many words stay.")
    source_min_score: float = Field(0.25, ge=0, description=(
        "In a medical source, the score a record longer than short_words needs (one term per 400 words)."))
    min_general_terms: int | None = Field(2, ge=1, description=(
        "In a medical source, a record below min_score holding this many distinct words of cooking, sport, law, "
        "finance or software goes; null keeps every short record of a medical source."))
    general_lexicon: str | None = Field(None, description=(
        "The other-domain word list (lang<TAB>term); the shipped one by default."), json_schema_extra=FILES)
    lexicon: str | None = Field(None, description="A lexicon file (lang<TAB>term); the shipped one by default.",
                                json_schema_extra=FILES)


@dataclass(frozen=True)
class Scores:
    """A shard's medical scores, lengths in words, words of other domains (counted below min_score only) and
    sources, row by row."""

    score: np.ndarray
    words: np.ndarray
    general: np.ndarray
    sources: list[str]


@dataclass(frozen=True)
class Judged:
    """Every shard's scores, and each source's share of records clearing min_score (None: too few records)."""

    shards: dict[int, Scores]
    shares: dict[str, float | None]


@register("relevance")
class Relevance(PhasedStep):
    Config = RelevanceConfig
    config: RelevanceConfig

    @classmethod
    def input_files(cls, config: RelevanceConfig, ctx: RunContext) -> list[Path]:
        """The shipped lexicon and affix tables count too: a lexicon edited in a new release reruns the step."""
        return super().input_files(config, ctx) + sorted(DATA.glob("*.tsv"))

    def path(self, name: str | None, default: Path) -> str:
        return str(self.ctx.resolve(name)) if name else str(default)

    def phases(self) -> list[Phase]:
        return [Map("scores"), Reduce("shares")]

    def scores(self, state: None, shard: int, records: list[Record]) -> Scores:
        """Map: each record's score and length over all its text (a question, its options and answer together)."""
        texts = ["\n".join(t for _, t in texts_of(r)) for r in records]
        lexicon, general = self.path(self.config.lexicon, LEXICON), self.path(self.config.general_lexicon, GENERAL)
        measured = [scan_score(t, lexicon) for t in texts]
        others = [len(general_terms(t, general)) if s < self.config.min_score else 0
                  for t, (s, _) in zip(texts, measured)]
        return Scores(np.array([s for s, _ in measured], dtype=np.float64),
                      np.array([w for _, w in measured], dtype=np.float64), np.array(others, dtype=np.int64),
                      [r["source"] for r in records])

    def shares(self, state: None, tables: list[tuple[int, Scores]]) -> Judged:
        """Reduce: per source, the share of its records that clear min_score on their own."""
        total: Counter = Counter()
        passed: Counter = Counter()
        for _, t in tables:
            ok = t.score >= self.config.min_score
            for source, good in zip(t.sources, ok):
                total[source] += 1
                passed[source] += bool(good)
        shares = {s: (passed[s] / n if n >= self.config.min_source_records else None) for s, n in total.items()}
        return Judged(dict(tables), shares)

    def medical_source(self, share: float | None) -> bool:
        return self.config.source_share is not None and share is not None and share >= self.config.source_share

    def decide(self, state: Judged, shard: int, records: list[Record]) -> StepResult:
        """Each record kept or rejected as not medical; its score and its source's share go to meta either way."""
        c = self.config
        t = state.shards[shard]
        kept, rejected = [], []
        for rec, score, words, others in zip(records, t.score.tolist(), t.words.tolist(), t.general.tolist()):
            share = state.shares[rec["source"]]
            medical_source = self.medical_source(share)
            if score >= c.min_score:
                ok = True
            elif medical_source:
                elsewhere = c.min_general_terms is not None and others >= c.min_general_terms
                ok = not elsewhere and (words <= c.short_words or score >= c.source_min_score)
            else:
                ok = False
            info = {"score": score, "words": words, "other_domain_terms": others,
                    "source_share": None if share is None else round(share, 4), "medical_source": medical_source}
            rec.setdefault("meta", {})["relevance"] = info
            if ok:
                kept.append(rec)
            else:
                rejected.append((rec, Reject("not medical", info)))
        return StepResult(kept, rejected)
