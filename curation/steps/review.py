"""review: apply a review queue's decisions. Rejected records go to the rejects with the reviewer's reason,
edits replace the originals (`parent_id`, `origin: review-edit`), accepted records are marked in
`meta.review`, so a stage can take only them (`reviewed: accepted` in the mixture). Policies: drop a source
whose sampled rejection rate is too high, and refuse to run while too little of the queue is done.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from ..context import RunContext
from ..errors import MedcurateError
from ..record import make_record
from ..review.queues import DB_NAME
from ..review.store import ReviewStore, content_hash
from .base import GlobalStep, Record, Reject, StepConfig, StepResult, register


class ReviewConfig(StepConfig):
    queue: str = Field(description="The review queue whose decisions apply (`medcurate review create`).")
    db: str | None = Field(None, description="The review store; the recipe's work dir/review.sqlite by default.")
    min_progress: float = Field(0.0, ge=0, le=1, description="Fail the run while less than this share of the "
                                                             "queue is decided.")
    max_source_rejection_rate: float | None = Field(
        None, ge=0, le=1, description="Drop every record of a source whose reviewed records were rejected more "
        "often than this.")
    min_source_reviews: int = Field(5, ge=1, description="Decisions a source needs before its rate counts.")
    unreviewed: Literal["keep", "reject"] = Field("keep", description="Records nobody decided (or not queued).")
    conflict: Literal["reject", "accept"] = Field(
        "reject", description="Two reviewers disagree on keep or drop: which wins.")


def store_path(config: ReviewConfig, ctx: RunContext) -> Path | None:
    """`db` relative to the recipe's folder, or the state dir's review.sqlite."""
    if config.db:
        return ctx.resolve(config.db)
    return ctx.state_dir / DB_NAME if ctx.state_dir is not None else None


def verdicts(store: ReviewStore, queue: str, conflict: str) -> tuple[dict[str, dict[str, Any]], int]:
    """Per record id, the decision that applies (and the content hash it was made on); and stale count."""
    per: dict[str, list[dict[str, Any]]] = defaultdict(list)
    stale = 0
    for d in store.decisions(queue):
        if d["stale"]:
            stale += 1
        else:
            per[d["record_id"]].append(d)
    out = {}
    for rid, ds in per.items():
        rejects = [d for d in ds if d["decision"] == "reject"]
        keeps = [d for d in ds if d["decision"] != "reject"]
        chosen = (rejects if rejects and (conflict == "reject" or not keeps) else keeps)[0]
        edits = [d for d in keeps if d["decision"] == "edit"]
        if chosen["decision"] != "reject" and edits:
            chosen = edits[-1]  # keeping it, with a reviewer's edit
        out[rid] = {**chosen, "reviewers": sorted(d["reviewer"] for d in ds)}
    return out, stale


@register("review")
class Review(GlobalStep):
    Config = ReviewConfig
    config: ReviewConfig

    @property
    def db_path(self) -> Path | None:
        return store_path(self.config, self.ctx)

    @classmethod
    def state_key(cls, config: ReviewConfig, ctx: RunContext) -> str:
        """The decisions change between runs without the recipe changing: they are part of the cache key."""
        path = store_path(config, ctx)
        return ReviewStore(path).digest(config.queue) if path is not None and path.exists() else "no store"

    def apply(self, records: list[Record]) -> StepResult:
        c = self.config
        if self.db_path is None or not self.db_path.exists():
            raise MedcurateError(f"review step: no review store at {self.db_path or c.db} (create the queue with "
                                 f"`medcurate review create ... --name {c.queue}`)")
        store = ReviewStore(self.db_path)
        store.policy(c.queue)
        done, total = store.progress(c.queue)
        if total and done / total < c.min_progress:
            raise MedcurateError(f"review queue '{c.queue}' is {done / total:.0%} done ({done}/{total}); the recipe "
                                 f"asks for {c.min_progress:.0%} before it runs on")
        decided, stale = verdicts(store, c.queue, c.conflict)
        dropped = self._rejected_sources(decided)
        kept, rejected, edits = [], [], []
        self.counts = {"accepted": 0, "rejected": 0, "edited": 0, "unreviewed": 0, "stale": 0,
                       "source_dropped": 0, "stale_decisions": stale}
        for rec in records:
            d = decided.get(rec["id"])
            if d is not None and d["content_hash"] != content_hash(rec):
                self.counts["stale"] += 1  # decided on other content: flagged, treated as undecided
                rec["meta"]["review"] = {"stale": True}
                d = None
            if d is not None and d["decision"] == "reject":
                self.counts["rejected"] += 1
                rejected.append((rec, Reject(f"review: {d['reason']}", {"reviewer": d["reviewer"],
                                                                         "note": d["note"]})))
            elif rec["source"] in dropped:
                self.counts["source_dropped"] += 1
                rejected.append((rec, Reject("review: source rejection rate too high",
                                             {"source": rec["source"], "rate": round(dropped[rec["source"]], 3)})))
            elif d is None:
                self.counts["unreviewed"] += 1
                if c.unreviewed == "reject":
                    rejected.append((rec, Reject("review: not reviewed")))
                else:
                    kept.append(rec)
            elif d["decision"] == "edit":
                self.counts["edited"] += 1  # the edit is a new record; the original leaves, named as replaced
                edit = self._edited(rec, d)
                kept.append(edit)
                edits.append(edit)
                rejected.append((rec, Reject("review: replaced by its edit", {"edit": edit["id"],
                                                                              "reviewer": d["reviewer"]})))
            else:
                self.counts["accepted"] += 1
                rec["meta"]["review"] = {"decision": "accept", "reviewers": d["reviewers"]}
                kept.append(rec)
        return StepResult(kept, rejected, edits)

    def _rejected_sources(self, decided: dict[str, dict[str, Any]]) -> dict[str, float]:
        c = self.config
        if c.max_source_rejection_rate is None:
            return {}
        seen: dict[str, list[bool]] = defaultdict(list)
        for d in decided.values():
            seen[d["source"]].append(d["decision"] == "reject")
        rates = {s: sum(v) / len(v) for s, v in seen.items() if len(v) >= c.min_source_reviews}
        return {s: r for s, r in rates.items() if r > c.max_source_rejection_rate}

    @staticmethod
    def _edited(rec: Record, d: dict[str, Any]) -> Record:
        edited = d["edited"]
        meta = {**rec["meta"], "review": {"decision": "edit", "reviewer": d["reviewer"], "reviewers": d["reviewers"],
                                          "note": d["note"]}}
        return make_record(rec["source"], rec["task"], messages=edited.get("messages"), text=edited.get("text"),
                           mcq=edited.get("mcq") or rec.get("mcq"), lang=rec.get("lang"), parent_id=rec["id"],
                           origin="review-edit", meta=meta)

    def summary(self) -> dict[str, Any]:
        return {"review": getattr(self, "counts", {})}
