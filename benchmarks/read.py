"""Reading and adapting JSONL: medcurate's reader against `pandas.read_json(lines=True)`, same file.

Run: .venv/bin/python benchmarks/read.py [--records 1000000] [--encoded-records 200000]
The reader also validates every record, maps it onto the canonical schema, computes its id and builds
Arrow batches; pandas only parses. A second table times legacy encodings: the same Chinese Q&A as UTF-8 and
as GB18030, the encoding detected or given, against pandas told the encoding.
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


ZH_TERMS = ("高血压", "糖尿病", "冠心病", "肺炎", "胃溃疡", "贫血", "哮喘", "肝硬化", "甲状腺功能亢进", "痛风")
ZH_ASK = ("患者应该注意什么？", "有哪些常见症状？", "首选的治疗药物是什么？", "需要做哪些检查？")
ZH_TELL = ("建议规律作息，低盐低脂饮食，", "应在医生指导下规范用药，", "定期复查血常规和肝肾功能，",
           "出现胸痛或呼吸困难时应及时就医，", "避免吸烟饮酒，适量运动，")


def generate_zh_csv(path: Path, n: int, encoding: str, seed: int = 0) -> None:
    """Chinese medical Q&A as a two-column CSV, the shape Chinese dialogue corpora ship in."""
    rng = random.Random(seed)
    with open(path, "w", encoding=encoding, newline="") as fh:
        fh.write("question,answer\n")
        for i in range(n):
            q = f"{rng.choice(ZH_TERMS)}{rng.choice(ZH_ASK)}（病例{i}）"
            bp = f"{rng.randint(120, 139)}/{rng.randint(70, 89)}"
            a = "".join(rng.sample(ZH_TELL, 3)) + f"血压控制在{bp}毫米汞柱以下。"
            fh.write(f"{q},{a}\n")


def encodings_table(tmp: Path, n: int, workers: int) -> None:
    import pandas as pd

    from curation.io.parallel import read_parallel
    from curation.io.reader import SourceSpec
    from curation.io.sources import detect_encoding

    rows = []
    for encoding in ("utf-8", "gb18030"):
        path = tmp / f"zh-{encoding}.csv"
        generate_zh_csv(path, n, encoding)
        t = time.perf_counter()
        pd.read_csv(path, encoding=encoding)
        rows.append((f"pandas.read_csv(encoding={encoding!r}) (baseline, parse only)", time.perf_counter() - t))
        t = time.perf_counter()
        found = detect_encoding(path)
        rows.append((f"detect_encoding on {encoding} (found {found})", time.perf_counter() - t))
        for given in (None, encoding):
            t = time.perf_counter()
            got = sum(tb.num_rows for tb in read_parallel(SourceSpec(path=str(path), encoding=given), workers=workers))
            assert got == n, (encoding, given, got)
            how = "given" if given else "detected"
            rows.append((f"medcurate reader, {encoding} {how}, {workers} processes", time.perf_counter() - t))
    print(f"\n{n:,} Chinese Q&A rows as CSV")
    print(f"{'method':<64} {'seconds':>8} {'records/s':>12}")
    for name, secs in rows:
        print(f"{name:<64} {secs:>8.2f} {n / secs:>12,.0f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--encoded-records", type=int, default=200_000)
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
    if args.encoded_records:
        with tempfile.TemporaryDirectory() as tmp:
            encodings_table(Path(tmp), args.encoded_records, args.workers)


if __name__ == "__main__":
    main()
