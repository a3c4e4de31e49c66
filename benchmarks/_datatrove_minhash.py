"""datatrove's four-stage MinHash deduplication over JSONL files, run by the interpreter of datatrove's own
environment (see benchmarks/_peers.py); it must not import the project.

Run: <datatrove python> benchmarks/_datatrove_minhash.py INPUT_DIR WORK_DIR WORKERS NGRAM BUCKETS HASHES

The stages are datatrove's example pipeline: signatures (one task per input file), buckets (one task per
band), clustering (one task) and filtering (one task per input file), each a LocalPipelineExecutor with
WORKERS processes. Filtering keeps each document's cluster id, so every removed document is paired with the
member of its cluster that stays. Prints one JSON line: seconds (all four stages, reading the results back
excluded), seconds per stage, and the pairs as [kept id, removed id].
"""

from __future__ import annotations

import gzip
import json
import sys
import time
from pathlib import Path


def main() -> None:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.hashing import HashConfig

    inputs, work, workers = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    ngram, buckets, hashes = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    files = len(list(Path(inputs).glob("*.jsonl")))
    config = MinhashConfig(n_grams=ngram, num_buckets=buckets, hashes_per_bucket=hashes,
                           hash_config=HashConfig(precision=64))
    logs = str(work / "logs")
    stages = {
        "signatures": LocalPipelineExecutor(pipeline=[
            JsonlReader(inputs, glob_pattern="*.jsonl"),
            MinhashDedupSignature(output_folder=str(work / "signatures"), config=config)],
            tasks=files, workers=workers, logging_dir=f"{logs}/signatures"),
        "buckets": LocalPipelineExecutor(pipeline=[
            MinhashDedupBuckets(input_folder=str(work / "signatures"), output_folder=str(work / "buckets"),
                                config=config)],
            tasks=buckets, workers=workers, logging_dir=f"{logs}/buckets"),
        "clusters": LocalPipelineExecutor(pipeline=[
            MinhashDedupCluster(input_folder=str(work / "buckets"), output_folder=str(work / "remove"),
                                config=config, save_cluster_id=True)],
            tasks=1, workers=1, logging_dir=f"{logs}/clusters"),
        "filter": LocalPipelineExecutor(pipeline=[
            JsonlReader(inputs, glob_pattern="*.jsonl"),
            MinhashDedupFilter(input_folder=str(work / "remove"), load_cluster_ids=True,
                               exclusion_writer=JsonlWriter(str(work / "removed"))),
            JsonlWriter(str(work / "kept"))],
            tasks=files, workers=workers, logging_dir=f"{logs}/filter"),
    }
    per_stage = {}
    t0 = time.perf_counter()
    for name, stage in stages.items():
        t = time.perf_counter()
        stage.run()
        per_stage[name] = time.perf_counter() - t
    secs = time.perf_counter() - t0
    pairs = cluster_pairs(work)
    print(json.dumps({"seconds": secs, "stages": per_stage, "pairs": pairs}))


def read_docs(folder: Path) -> list[dict]:
    docs = []
    for path in sorted(folder.glob("*.jsonl*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as f:
            docs += [json.loads(line) for line in f]
    return docs


def cluster_pairs(work: Path) -> list[list[str]]:
    """[kept id, removed id] for every removed document, by the cluster ids the filter stage stored."""
    keeper = {d["metadata"]["minhash_cluster_id"]: d["id"] for d in read_docs(work / "kept")
              if d["metadata"].get("minhash_cluster_id", -1) != -1}
    return [[keeper[d["metadata"]["minhash_cluster_id"]], d["id"]] for d in read_docs(work / "removed")
            if d["metadata"].get("minhash_cluster_id", -1) in keeper]


if __name__ == "__main__":
    main()
