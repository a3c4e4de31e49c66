"""JSONL reading over processes: the file is cut into byte ranges on line boundaries, each adapted apart.

Order is kept (results come back in range order), so the output is the same for any number of workers.
Compressed files, UTF-16/32 text and other containers cannot be cut without reading them, so they go
sequentially. GB18030, Big5, Shift-JIS and the single-byte code pages never use the newline byte inside a
character, so their ranges are cut and decoded line by line like UTF-8.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pyarrow as pa

from ..ledger import Ledger
from ..pipeline import worker_context
from ..record import to_table
from ..rejects import RejectWriter
from .reader import Chunk, SourceSpec, SourceTally, adapt_rows, open_source, read_batches
from .sources import RawRow, is_wide, parse_jsonl_line

RANGE_BYTES = 8 << 20


def _ranges(path: Path, size: int) -> list[tuple[int, int, int]]:
    """(start, end, first line number) for each range; line numbers are counted once, here."""
    out = []
    with open(path, "rb") as fh:
        start, line = 0, 1
        while start < size:
            fh.seek(min(start + RANGE_BYTES, size))
            fh.readline()
            end = min(fh.tell(), size)
            fh.seek(start)
            lines = fh.read(end - start).count(b"\n")
            out.append((start, end, line))
            start, line = end, line + lines
    return out


def _rows_of_range(path: str, start: int, end: int, first_line: int, encoding: str) -> Iterator[RawRow]:
    """The rows of one byte range; safe for any encoding whose newline byte is never part of another character."""
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read(end - start)
    if start == 0 and data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    for n, line in enumerate(data.split(b"\n"), first_line):
        if line.strip():
            yield parse_jsonl_line(n, line, encoding)


def _work(args: tuple[SourceSpec, str, int, int, int, bool]) -> tuple[Chunk, pa.Table | None]:
    spec, fmt_name, start, end, first_line, strict = args
    rows = _rows_of_range(spec.path, start, end, first_line, spec.encoding or "utf-8")
    chunk = adapt_rows(rows, spec, fmt_name, strict)
    table = to_table(chunk.records) if chunk.records else None
    chunk.records = []  # sent back as Arrow, which pickles far faster than dicts
    return chunk, table


def read_parallel(
    spec: SourceSpec,
    *,
    workers: int | None = None,
    rejects: RejectWriter | None = None,
    ledger: Ledger | None = None,
    strict: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[pa.Table]:
    path, container, fmt_name, encoding, _ = open_source(spec)
    workers = workers or os.cpu_count() or 1
    compressed = path.name.lower().endswith((".gz", ".zst", ".zstd"))
    spec = spec.model_copy(update={"format": fmt_name, "encoding": encoding})
    # UTF-16/32 cannot be cut at b"\n", so such a file is read (and transcoded) whole, in one process; so is a
    # file of one range, which worker processes would only slow down (they take a second or more to start).
    cuttable = container == "jsonl" and not compressed and not is_wide(encoding or "utf-8")
    ranges = _ranges(path, path.stat().st_size) if workers > 1 and cuttable else []
    if len(ranges) <= 1:
        yield from read_batches(spec, rejects=rejects, ledger=ledger, strict=strict, on_progress=on_progress)
        return
    tally = SourceTally(spec, rejects, ledger)
    jobs = [(spec, fmt_name, s, e, line, strict) for s, e, line in ranges]
    with ProcessPoolExecutor(workers, mp_context=worker_context()) as pool:
        for chunk, table in pool.map(_work, jobs):
            kept = table.num_rows if table is not None else 0
            tally.add(chunk)
            tally.kept += kept
            if table is not None:
                yield table
            if on_progress:
                on_progress(chunk.n_in)
    tally.close()
