"""pairs: preference records from what the pipeline already knows, added beside the records they come from.

- From a review queue: an edit gives chosen = the edited reply, rejected = the original; an accepted and a
  rejected reply to the same prompt give a pair; with `unpaired`, every accept and reject also gives a KTO
  record (completion, label). Edits that change only whitespace or punctuation teach nothing and are dropped.
- From judged candidates (`meta.candidates`, written by the candidates step): chosen = the best-scored reply,
  rejected = a lower-scored one; ties and gaps under `margin` are dropped, not kept as distilabel does.
- A reviewer's pair on a prompt overrides the judge's pairs on that prompt.

Inputs pass through unchanged, so one recipe feeds an SFT stage and an alignment stage. Each preference
record names an input as its parent (the record it was derived from, or one with the same prompt) and lists
every record it came from in `preference.derived_from`; a dropped pair goes to the rejects with the reason.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from ..context import RunContext
from ..errors import MedcurateError
from ..preference import preference_record as make_preference
from ..preference import prompt_key, prompt_of, same_reply, split_reply, without_punctuation
from ..review.store import ReviewStore
from .base import GlobalStep, Record, Reject, StepConfig, StepResult, register
from .review import store_path, verdicts

HUMAN = ("review-edit", "review-decision")


class PairsConfig(StepConfig):
    queue: str | None = Field(None, description="A review queue whose decisions give pairs (none: no review pairs).")
    db: str | None = Field(None, description="The review store; the recipe's work dir/review.sqlite by default.")
    conflict: Literal["reject", "accept"] = Field("reject", description="Two reviewers disagree: which wins "
                                                                        "(as in the review step).")
    unpaired: bool = Field(False, description="Accept and reject decisions also give unpaired (KTO) records.")
    candidates: bool = Field(True, description="Pairs from the judged candidates in `meta.candidates`.")
    margin: float = Field(1.0, ge=0, description="Smallest judge score gap (1-5 scale) a candidate pair may have; "
                                                 "equal scores are always dropped.")
    rejected: Literal["worst", "each"] = Field(
        "worst", description="worst: one pair per prompt, best against the lowest-scored candidate; each: best "
        "against every lower-scored candidate.")


def _reply_of(messages: list[dict[str, str]] | None) -> tuple[list[dict[str, str]], str] | None:
    return split_reply(messages) if messages else None


class Builder:
    """Collects the preference records of one run: which input each hangs from, and which are dropped."""

    def __init__(self, records: list[Record]):
        self.by_id = {r["id"]: r for r in records}
        self.edit_of = {r["parent_id"]: r["id"] for r in records if r.get("origin") == "review-edit"}
        self.by_prompt: dict[str, str] = {}
        for r in records:
            got = _reply_of(r.get("messages"))
            if got is not None:
                self.by_prompt.setdefault(prompt_key(got[0]), r["id"])
        self.kept: list[Record] = []
        self.dropped: list[tuple[Record, Reject]] = []
        self.tally: Counter[str] = Counter()

    def parent(self, ids: list[str], key: str) -> Record | None:
        """The first of `ids` (or its review edit) among the inputs; else an input with the same prompt."""
        for rid in ids:
            for cand in (rid, self.edit_of.get(rid)):
                if cand in self.by_id:
                    return self.by_id[cand]
        pid = self.by_prompt.get(key)
        return self.by_id.get(pid) if pid else None

    def add(self, prompt: list[dict[str, str]], derived: list[str], origin: str, drop: Reject | None = None,
            meta: dict[str, Any] | None = None, **pref: Any) -> None:
        key = prompt_key(prompt)
        parent = self.parent(derived, key)
        if parent is None:
            self.tally["not made: none of its records reached this step"] += 1
            return
        rec = make_preference(parent["source"], prompt, lang=parent.get("lang"), origin=origin,
                              parent_id=parent["id"], derived_from=derived, meta=meta, **pref)
        if drop is None and pref.get("chosen") is not None and same_reply(pref["chosen"], pref["rejected"]):
            drop = Reject("pairs: chosen and rejected are the same reply")
        if drop is not None:
            self.dropped.append((rec, drop))
            self.tally[f"dropped: {drop.reason.removeprefix('pairs: ')}"] += 1
        else:
            self.kept.append(rec)
            self.tally[f"made: {origin}{'' if pref.get('chosen') is not None else ' (unpaired)'}"] += 1

    def overrule_judge(self) -> None:
        """A reviewer's pair on a prompt wins over the judge's pairs on the same prompt."""
        human = {r["meta"]["prompt_key"] for r in self.kept if r["preference"]["origin"] in HUMAN
                 and r["preference"]["chosen"] is not None}
        keep = []
        for r in self.kept:
            if r["preference"]["origin"] == "judge" and r["meta"]["prompt_key"] in human:
                self.dropped.append((r, Reject("pairs: a reviewer decided on this prompt")))
                self.tally["made: judge"] -= 1
                self.tally["dropped: a reviewer decided on this prompt"] += 1
            else:
                keep.append(r)
        self.kept = keep


def review_pairs(b: Builder, store: ReviewStore, config: PairsConfig) -> None:
    """Edits, accept/reject pairs on one prompt, and (when asked) KTO labels from a queue's decisions."""
    decided, _ = verdicts(store, config.queue or "", config.conflict)
    good: dict[str, list[tuple[str, list[dict[str, str]], str]]] = defaultdict(list)
    bad: dict[str, list[tuple[str, list[dict[str, str]], str]]] = defaultdict(list)
    for item in store.items(config.queue or ""):
        d = decided.get(item.record_id)
        original = _reply_of(item.record.get("messages"))
        if d is None or d["content_hash"] != item.content_hash or original is None:
            continue
        prompt, reply = original
        review = {"reviewer": d["reviewer"], "reviewers": d["reviewers"]}
        if d["decision"] == "edit":
            edited = _reply_of((d["edited"] or {}).get("messages"))
            if edited is None:
                continue
            drop = None
            if without_punctuation(edited[1]) == without_punctuation(reply):
                drop = Reject("pairs: edit changes only whitespace or punctuation", review)
            derived = [item.record_id] + ([b.edit_of[item.record_id]] if item.record_id in b.edit_of else [])
            b.add(edited[0], derived, "review-edit", drop, {"review": review},
                  chosen=edited[1], rejected=reply)
            continue
        side = good if d["decision"] == "accept" else bad
        side[prompt_key(prompt)].append((item.record_id, prompt, reply))
        if config.unpaired:
            b.add(prompt, [item.record_id], "review-decision", None, {"review": review}, completion=reply,
                  label=d["decision"] == "accept")
    for key, accepted in good.items():
        for a_id, prompt, a_reply in accepted:
            for r_id, _, r_reply in bad.get(key, []):
                b.add(prompt, [a_id, r_id], "review-decision", chosen=a_reply, rejected=r_reply)


def candidate_pairs(b: Builder, records: list[Record], config: PairsConfig) -> None:
    """Best against worst (or each lower) judged candidate of every record carrying two or more scores."""
    for rec in records:
        cands = [(i, c) for i, c in enumerate((rec.get("meta") or {}).get("candidates") or [])
                 if isinstance(c.get("score"), (int, float)) and (c.get("text") or "").strip()]
        prompt = prompt_of(rec)
        if len(cands) < 2 or not prompt:
            continue
        ranked = sorted(cands, key=lambda ic: (-ic[1]["score"], ic[0]))  # stable: the earlier of equal scores
        best = ranked[0][1]
        lower = ranked[1:] if config.rejected == "each" else [ranked[-1]]
        for _, other in lower:
            gap = round(best["score"] - other["score"], 4)
            drop = None
            if gap == 0:
                drop = Reject("pairs: tie", {"score": best["score"]})
            elif gap < config.margin:
                drop = Reject("pairs: score gap under margin", {"gap": gap, "margin": config.margin})
            b.add(prompt, [rec["id"]], "judge", drop, {"scores": [best["score"], other["score"]]},
                  chosen=best["text"], rejected=other["text"], margin=gap)


@register("pairs")
class Pairs(GlobalStep):
    """Preference pairs (and KTO labels) from review decisions and judged candidates, added beside the inputs."""

    Config = PairsConfig
    config: PairsConfig

    @property
    def db_path(self) -> Path | None:
        return store_path(self.config, self.ctx) if self.config.queue else None  # type: ignore[arg-type]

    @classmethod
    def state_key(cls, config: PairsConfig, ctx: RunContext) -> str | None:
        """Review decisions change between runs without the recipe changing: they join the cache key."""
        if not config.queue:
            return None
        path = store_path(config, ctx)  # type: ignore[arg-type]
        return ReviewStore(path).digest(config.queue) if path is not None and path.exists() else "no store"

    def apply(self, records: list[Record]) -> StepResult:
        c = self.config
        b = Builder(records)
        if c.queue:
            if self.db_path is None or not self.db_path.exists():
                raise MedcurateError(f"pairs step: no review store at {self.db_path or c.db} (create the queue "
                                     f"with `medcurate review create ... --name {c.queue}`)")
            store = ReviewStore(self.db_path)
            store.policy(c.queue)  # a clear error naming the queues when this one does not exist
            review_pairs(b, store, c)
        if c.candidates:
            candidate_pairs(b, records, c)
        b.overrule_judge()
        self.counts = {k: v for k, v in sorted(b.tally.items()) if v}
        return StepResult(list(records) + b.kept, b.dropped, b.kept + [r for r, _ in b.dropped])

    def summary(self) -> dict[str, Any]:
        return {"pairs": getattr(self, "counts", {})}
