from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "recipes" / "data"
SAMPLE_FILES = sorted(
    p for p in SAMPLE.iterdir()
    if p.suffix not in (".py", ".md") and p.name != "planted.json" and not p.name.startswith("__")
)


@pytest.fixture(scope="module")
def server():
    """llama.cpp's OpenAI-compatible server with the embedded model, on 127.0.0.1, for one test module."""
    from .llm_server import LlamaServer

    srv = LlamaServer()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def planted() -> list[dict]:
    return json.loads((SAMPLE / "planted.json").read_text())


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def qa(q: str, a: str) -> dict:
    return {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
