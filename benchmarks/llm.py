"""The translate step against a plain loop of `openai` calls, on a local llama.cpp server, in the same run.

Run: .venv/bin/python benchmarks/llm.py [--records 24] [--max-tokens 48] [--repeat 2]

For concurrency 1, 4 and 8: records per second of the translate step (cache, verification, accounting
included) and of a bare asyncio loop sending the same prompts with the same client at the same
concurrency (target: the step at >= 90% of the loop). The two run `--repeat` times, alternating which
goes first, and the fastest of each counts, since the small server's speed moves between runs by more than
the difference measured; the step's own time outside its requests is reported too. Then a second run of the
step (target: zero requests), and a run killed halfway and resumed (target: at most records + concurrency
requests in all).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import openai
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._corpus import medical_sentence  # noqa: E402
from curation.context import RunContext  # noqa: E402
from curation.ledger import Ledger  # noqa: E402
from curation.llm.config import Endpoint  # noqa: E402
from curation.pipeline import run_steps  # noqa: E402
from curation.record import make_record  # noqa: E402
from curation.steps.translate import Translate, TranslateConfig  # noqa: E402
from tests.llm_server import MODEL, FaultProxy, LlamaServer  # noqa: E402


def corpus(n: int) -> list[dict]:
    import random

    rng = random.Random(3)
    return [make_record("bench", "text", lang="en", text=f"{medical_sentence(rng, 12, 20)} ({i}).") for i in range(n)]


def step_run(records: list[dict], url: str, concurrency: int, max_tokens: int, cache: Path
             ) -> tuple[float, dict, float]:
    """Seconds, usage, and seconds spent outside the LLM requests (prompts, verification, accounting)."""
    step = Translate(TranslateConfig(to=["es"], max_tokens=max_tokens))
    step.setup(RunContext(endpoints={"bench": Endpoint(base_url=url, model=MODEL, concurrency=concurrency)},
                          default_endpoint="bench", llm_cache=cache))
    llm = step.llm
    in_requests = 0.0
    complete = llm.complete

    def timed(requests):
        nonlocal in_requests
        t0 = time.perf_counter()
        try:
            return complete(requests)
        finally:
            in_requests += time.perf_counter() - t0

    llm.complete = timed
    t = time.perf_counter()
    run_steps([dict(r) for r in records], [step], rejects=None, ledger=Ledger())
    total = time.perf_counter() - t
    return total, step.summary()["llm"], total - in_requests


def loop_run(records: list[dict], url: str, concurrency: int, max_tokens: int) -> float:
    step = Translate(TranslateConfig(to=["es"], max_tokens=max_tokens))
    prompts = [step._request(r["text"], "en", "es", []).messages for r in records]
    params = step.params()

    async def go() -> None:
        client = openai.AsyncOpenAI(base_url=url, api_key="none", max_retries=0, timeout=120)
        sem = asyncio.Semaphore(concurrency)

        async def one(messages: list[dict]) -> str:
            async with sem:
                r = await client.chat.completions.create(model=MODEL, messages=messages, **params)
                return r.choices[0].message.content or ""

        await asyncio.gather(*(one(m) for m in prompts))
        await client.close()

    t = time.perf_counter()
    asyncio.run(go())
    return time.perf_counter() - t


def killed_and_resumed(records: list[dict], server: LlamaServer, concurrency: int, max_tokens: int,
                       folder: Path) -> tuple[int, int]:
    src = folder / "in.jsonl"
    src.write_bytes(b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in records))
    out = folder / "out.jsonl"
    proxy = FaultProxy(server.port, ["ok"])
    cmd = [str(ROOT / ".venv" / "bin" / "medcurate"), "translate", str(src), str(out), "--to", "es",
           "--base-url", proxy.base_url, "--model", MODEL, "--concurrency", str(concurrency),
           "--max-tokens", str(max_tokens)]
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        cache = out.with_name(out.name + ".llm-cache.sqlite")
        while proc.poll() is None:
            try:
                if sqlite3.connect(cache).execute("select count(*) from replies").fetchone()[0] >= len(records) // 2:
                    break
            except sqlite3.Error:
                pass
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        proxy.stop()
    return proxy.answered, len(records)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=24)
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    records = corpus(args.records)
    server = LlamaServer()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"{args.records} records, one request each, max_tokens {args.max_tokens}, llama.cpp + SmolLM2-135M")
            print("| concurrency | plain openai loop rec/s | translate step rec/s | step / loop | step time outside "
                  "requests |")
            print("|---:|---:|---:|---:|---:|")
            loop_run(records[:2], server.base_url, 1, args.max_tokens)  # warm the server
            for c in (1, 4, 8):
                bases, ours, outside = [], [], []
                for k in range(args.repeat):  # alternate which goes first: the server favours one order
                    if k % 2:
                        total, _, own = step_run(records, server.base_url, c, args.max_tokens,
                                                 Path(tmp) / f"c{c}-{k}.sqlite")
                        bases.append(loop_run(records, server.base_url, c, args.max_tokens))
                    else:
                        bases.append(loop_run(records, server.base_url, c, args.max_tokens))
                        total, _, own = step_run(records, server.base_url, c, args.max_tokens,
                                                 Path(tmp) / f"c{c}-{k}.sqlite")
                    ours.append(total)
                    outside.append(own)
                base, mine, n = min(bases), min(ours), args.records
                print(f"| {c} | {n / base:.2f} | {n / mine:.2f} | {100 * base / mine:.0f}% | "
                      f"{min(outside):.2f} s of {mine:.1f} s |", flush=True)
            _, usage, _ = step_run(records, server.base_url, 4, args.max_tokens, Path(tmp) / "c4-0.sqlite")
            print(f"second run of the step: {usage['requests']} requests, {usage['cache_hits']} cache hits "
                  f"(target: 0 requests)")
            answered, n = killed_and_resumed(records, server, 4, args.max_tokens, Path(tmp))
            print(f"killed halfway and resumed: {answered} requests answered for {n} records at concurrency 4 "
                  f"(target: <= {n + 4})")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
