"""Accuracy with a bootstrap 95% interval, per benchmark and style, then per answer kind, language and source."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np


def bootstrap_ci(correct: list[bool], resamples: int, seed: int) -> tuple[float, float]:
    """Percentile interval of the mean over resampled item sets."""
    if not correct:
        return float("nan"), float("nan")
    x = np.asarray(correct, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(resamples, len(x)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def score_group(rows: list[dict[str, Any]], resamples: int, seed: int) -> dict[str, Any]:
    correct = [r["correct"] for r in rows]
    low, high = bootstrap_ci(correct, resamples, seed)
    return {"n": len(rows), "correct": int(sum(correct)), "accuracy": sum(correct) / len(rows) if rows else 0.0,
            "ci95": [low, high], "unparseable": sum(not r["parsed"] for r in rows)}


def summarize(rows: list[dict[str, Any]], resamples: int, seed: int) -> list[dict[str, Any]]:
    """One entry per (benchmark, style), with its languages and sources broken out."""
    runs: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        runs[(r["benchmark"], r["style"])].append(r)
    summary = []
    for (bench, style), items in runs.items():
        entry = {"benchmark": bench, "style": style, **score_group(items, resamples, seed)}
        for key in ("lang", "source"):
            groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for r in items:
                groups[r[key]].append(r)
            entry[f"by_{key}"] = {k: score_group(v, resamples, seed) for k, v in sorted(groups.items())}
        kinds: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in items:
            kinds["multiple" if r.get("multi") else "single"].append(r)
        entry["by_kind"] = {k: score_group(v, resamples, seed) for k, v in sorted(kinds.items())}
        summary.append(entry)
    return summary


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


def markdown(result: dict[str, Any]) -> str:
    lines = [f"# Evaluation of {result['model']}", "",
             f"Method: {result['method']}; seed {result['spec']['seed']}; 95% intervals from "
             f"{result['spec']['bootstrap']} bootstrap resamples.", "",
             "| benchmark | style | items | accuracy % | 95% CI | unparseable | items/s |",
             "|---|---|---:|---:|---|---:|---:|"]
    for e in result["summary"]:
        lines.append(f"| {e['benchmark']} | {e['style']} | {e['n']} | {pct(e['accuracy'])} | "
                     f"{pct(e['ci95'][0])}–{pct(e['ci95'][1])} | {e['unparseable']} | {e['items_per_s']:.2f} |")
    for key, title in (("kind", "answer kind"), ("lang", "language"), ("source", "source")):
        lines += ["", f"By {title}:", "", f"| benchmark | style | {title} | items | accuracy % | 95% CI |",
                  "|---|---|---|---:|---:|---|"]
        for e in result["summary"]:
            for name, g in e.get(f"by_{key}", {}).items():
                lines.append(f"| {e['benchmark']} | {e['style']} | {name} | {g['n']} | {pct(g['accuracy'])} | "
                             f"{pct(g['ci95'][0])}–{pct(g['ci95'][1])} |")
    if result["notes"]:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in result["notes"]]
    return "\n".join(lines) + "\n"


def write(result: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    js, md = folder / "eval.json", folder / "eval.md"
    js.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    md.write_text(markdown(result), encoding="utf-8")
    return js, md
