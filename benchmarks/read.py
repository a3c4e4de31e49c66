"""Reading and adapting JSONL: medcurate's reader against `pandas.read_json(lines=True)`, same file.

Run: .venv/bin/python benchmarks/read.py [--records 1000000]
The reader also validates every record, maps it onto the canonical schema, computes its id and builds
Arrow batches; pandas only parses.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._corpus import medical_sentence  # noqa: E402


def generate(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with open(path, "wb") as fh:
        for i in range(n):
            q = medical_sentence(rng, 8, 20) + "?"
            a = " ".join(medical_sentence(rng, 10, 25) + "." for _ in range(rng.randint(1, 4)))
            row = {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}],
                   "lang": "en", "qid": i}
            fh.write(orjson.dumps(row) + b"\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    import pandas as pd

    from curation.io.parallel import read_parallel
    from curation.io.reader import SourceSpec, read_batches

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.jsonl"
        t = time.perf_counter()
        generate(path, args.records)
        size = path.stat().st_size / 1e6
        print(f"generated {args.records:,} records ({size:.0f} MB) in {time.perf_counter() - t:.1f}s")

        t = time.perf_counter()
        df = pd.read_json(path, lines=True)
        base = time.perf_counter() - t
        assert len(df) == args.records
        del df

        t = time.perf_counter()
        n = sum(tb.num_rows for tb in read_batches(SourceSpec(path=str(path))))
        one = time.perf_counter() - t
        assert n == args.records

        t = time.perf_counter()
        n = sum(tb.num_rows for tb in read_parallel(SourceSpec(path=str(path)), workers=args.workers))
        par = time.perf_counter() - t
        assert n == args.records

    rows = [
        ("pandas.read_json(lines=True) (baseline, parse only)", base),
        ("medcurate reader, 1 process (parse+validate+adapt+id+Arrow)", one),
        (f"medcurate reader, {args.workers} processes", par),
    ]
    print(f"\n{'method':<64} {'seconds':>8} {'records/s':>12} {'vs baseline':>12}")
    for name, secs in rows:
        print(f"{name:<64} {secs:>8.2f} {args.records / secs:>12,.0f} {base / secs:>11.2f}x")


if __name__ == "__main__":
    main()
