"""Dataset statistics: counts by source, language and task, length distributions, charts, reject reports."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from .record import ARROW_SCHEMA

# A word is a run of non-space characters, or one CJK character (Chinese and Japanese have no spaces).
WORD = r"[\p{Han}\p{Hiragana}\p{Katakana}]|[^\s\p{Han}\p{Hiragana}\p{Katakana}]+"


def content_expr() -> pl.Expr:
    """All the text of a record: its messages joined, or its `text`."""
    joined = pl.col("messages").list.eval(pl.element().struct.field("content")).list.join("\n")
    return pl.coalesce(joined, pl.col("text"), pl.lit(""))


def _distribution(s: pl.Series) -> dict[str, float]:
    if s.len() == 0:
        return {}
    return {
        "min": int(s.min()), "p50": float(s.quantile(0.5, "nearest")), "p90": float(s.quantile(0.9, "nearest")),
        "p99": float(s.quantile(0.99, "nearest")), "max": int(s.max()), "mean": round(float(s.mean()), 1),
    }


def _counts(df: pl.DataFrame, col: str) -> dict[str, int]:
    out = df.group_by(col).len().sort(["len", col], descending=[True, False])
    return {str(k): int(v) for k, v in out.iter_rows()}


def lengths(data: pa.Table | list[Path]) -> pl.DataFrame:
    """Source, language, task and length of each record; from parquet files, only the columns this needs are
    read, a file at a time (an export's shard), and the texts are dropped once measured."""
    if isinstance(data, list):
        parts = [lengths_of(pl.scan_parquet(path)) for path in data]
        return pl.concat(parts) if parts else lengths_of(pl.from_arrow(ARROW_SCHEMA.empty_table()).lazy())
    return lengths_of(pl.from_arrow(data).lazy())


def lengths_of(frame: pl.LazyFrame) -> pl.DataFrame:
    """`lengths` of one frame of records."""
    content = pl.col("_content")
    return frame.select("source", pl.col("lang").fill_null("unknown"), "task",
                        content_expr().alias("_content")).select(
        "source", "lang", "task", content.str.len_chars().alias("chars"),
        content.str.count_matches(WORD).alias("words")).collect()


def compute_stats(data: pa.Table | list[Path], measured: pl.DataFrame | None = None) -> dict[str, Any]:
    """Counts by source, language and task, and length distributions; `measured`: `lengths(data)` when the
    caller has it (an export measures each split once for its statistics and its charts)."""
    df = lengths(data) if measured is None else measured
    return {
        "records": df.height,
        "by_source": _counts(df, "source"),
        "by_lang": _counts(df, "lang"),
        "by_task": _counts(df, "task"),
        "chars": _distribution(df["chars"]),
        "words": _distribution(df["words"]),
    }


def preference_stats(data: pa.Table | list[Path]) -> dict[str, Any]:
    """Preference records by origin, kind and language, and the distribution of their margins (judge pairs'
    score gaps; human and dataset preferences have none)."""
    frame = pl.scan_parquet(data) if isinstance(data, list) else pl.from_arrow(data).lazy()
    pref = pl.col("preference")
    df = frame.filter(pref.is_not_null()).select(
        pl.col("lang").fill_null("unknown"), pref.struct.field("origin").alias("origin"),
        pl.when(pref.struct.field("chosen").is_not_null()).then(pl.lit("paired")).otherwise(pl.lit("unpaired"))
        .alias("kind"), pref.struct.field("margin").alias("margin")).collect()
    margins = df["margin"].drop_nulls()
    dist: dict[str, float] = {}
    if margins.len():
        dist = {"min": float(margins.min()), "p50": float(margins.quantile(0.5, "nearest")),
                "p90": float(margins.quantile(0.9, "nearest")), "max": float(margins.max()),
                "mean": round(float(margins.mean()), 3)}
    return {"records": df.height, "by_origin": _counts(df, "origin"), "by_kind": _counts(df, "kind"),
            "by_lang": _counts(df, "lang"), "margin": dist, "without_margin": int(df["margin"].null_count())}


def reject_report(rejects: list[dict[str, Any]], examples: int = 2) -> dict[str, dict[str, Any]]:
    """Per step and reason kind: how many records went, and the first few as examples."""
    from .io.reader import reason_key

    report: dict[str, dict[str, Any]] = defaultdict(dict)
    for r in rejects:
        key = reason_key(r.get("field"), r["reason"])
        slot = report[r["step"]].setdefault(key, {"count": 0, "examples": []})
        slot["count"] += 1
        if len(slot["examples"]) < examples:
            where = f"{r.get('source_file') or ''}:{r.get('locator') or r.get('id') or ''}"
            text = r.get("raw")
            if text is None and r.get("record"):
                rec = r["record"]
                text = rec.get("text") or " | ".join(m["content"] for m in rec.get("messages") or [])
            slot["examples"].append({"where": where, "text": (text or "")[:160]})
    return {step: dict(sorted(v.items(), key=lambda kv: -kv[1]["count"])) for step, v in report.items()}


def plot_stats(data: pa.Table | list[Path], out_dir: str | Path, measured: pl.DataFrame | None = None) -> list[Path]:
    """PNG charts: language, source and task mix, and length histograms; `measured` as in compute_stats."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = lengths(data) if measured is None else measured
    written = []
    for col, title in (("lang", "Records by language"), ("source", "Records by source"), ("task", "Records by task")):
        counts = _counts(df, col)
        fig, ax = plt.subplots(figsize=(7, max(2.5, 0.35 * len(counts) + 1)))
        ax.barh(list(counts)[::-1], list(counts.values())[::-1], color="#3a7ca5")
        ax.set_title(title)
        ax.set_xlabel("records")
        fig.tight_layout()
        path = out / f"{col}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    for col, label in (("chars", "characters"), ("words", "words")):
        fig, ax = plt.subplots(figsize=(7, 3.5))
        values = df[col].to_numpy()  # an array: matplotlib reshapes a list of 10^5 numbers element by element
        ax.hist(values, bins=min(50, max(5, len(values) // 5)), color="#81a4cd")
        ax.set_title(f"Length in {label}")
        ax.set_xlabel(label)
        ax.set_ylabel("records")
        fig.tight_layout()
        path = out / f"length_{col}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written
