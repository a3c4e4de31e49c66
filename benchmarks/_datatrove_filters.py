"""datatrove's Gopher repetition, Gopher quality and C4 quality filters over a JSONL file, run by the
interpreter of datatrove's own environment (see benchmarks/_peers.py); it must not import the project.

Run: <datatrove python> benchmarks/_datatrove_filters.py DOCS.jsonl WORKERS

Each line is {"id", "text", "lang"}. Filters are built per language, as datatrove's word and sentence
splitters are, with their default settings, and applied in datatrove's order (repetition, quality, C4): a
document stops at the first that rejects it, as in a datatrove pipeline. Prints one JSON line: documents,
kept, seconds of filtering (reading excluded) and rejects by filter and reason.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from multiprocessing import Pool

FILTERS: dict[str, list] = {}


def filters_for(lang: str) -> list:
    """One chain of filters per language, built once per worker process."""
    if lang not in FILTERS:
        from datatrove.pipeline.filters import C4QualityFilter, GopherQualityFilter, GopherRepetitionFilter

        FILTERS[lang] = [GopherRepetitionFilter(language=lang), GopherQualityFilter(language=lang),
                         C4QualityFilter(language=lang)]
    return FILTERS[lang]


def run_chunk(rows: list[dict]) -> Counter:
    from datatrove.data import Document

    reasons: Counter = Counter()
    for row in rows:
        doc = Document(text=row["text"], id=row["id"], metadata={"language": row["lang"]})
        for f in filters_for(row["lang"]):
            outcome = f.filter(doc)
            ok, why = (outcome, "") if isinstance(outcome, bool) else outcome
            if not ok:
                reasons[f"{type(f).__name__}: {why}"] += 1
                break
        else:
            reasons["kept"] += 1
    return reasons


def main() -> None:
    path, workers = sys.argv[1], int(sys.argv[2])
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    for lang in sorted({r["lang"] for r in rows}):  # warm the tokenizers, as a long pipeline would have them
        run_chunk([{"id": "warm", "text": "Warm up. " * 3, "lang": lang}])
    chunks = [rows[i: i + 2000] for i in range(0, len(rows), 2000)]
    t = time.perf_counter()
    total: Counter = Counter()
    if workers > 1:
        with Pool(workers) as pool:
            for c in pool.imap(run_chunk, chunks):
                total += c
    else:
        for c in map(run_chunk, chunks):
            total += c
    secs = time.perf_counter() - t
    kept = total.pop("kept", 0)
    print(json.dumps({"docs": len(rows), "kept": kept, "seconds": secs, "rejects": dict(total.most_common())}))


if __name__ == "__main__":
    main()
