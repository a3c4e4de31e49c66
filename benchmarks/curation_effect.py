"""Does curation help? SmolLM2-135M fine-tuned with LoRA on the same number of tokens of (a) the demo recipe's raw
sources and (b) its curated mixture, then scored on PubMedQA.

Run: .venv/bin/python benchmarks/curation_effect.py [--steps 40] [--items 300]

(a) is every record the readers get from `recipes/demo.yaml`'s sources, nothing else done; (b) is the training
split of the recipe's exported stages. Both train one SFT stage with the same settings (LoRA r=16, packed
sequences of 512 tokens, 4 per step, `--steps` steps), so both see the same number of token slots (the actual
trained tokens are printed). Records without a conversation (continued-pretraining text) are left out of both.
The three models (base, raw, curated) are scored on the same seeded sample of `--items` PubMedQA items, by
log-likelihood of the option text. On this machine's CPU the defaults run in about half an hour.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from curation.io.reader import read_records  # noqa: E402
from curation.recipe import load_recipe  # noqa: E402
from curation.record import from_table, to_table  # noqa: E402
from curation.run import run_recipe  # noqa: E402
from training.evaluation.config import EvalSpec  # noqa: E402
from training.evaluation.models import load_local  # noqa: E402
from training.evaluation.run import Target, evaluate  # noqa: E402
from training.train import train  # noqa: E402

PUBMEDQA = ROOT.parent / "shared" / "data" / "pubmedqa" / "ori_pqal.json"


def conversations(records: list[dict]) -> list[dict]:
    return [r for r in records if r.get("messages")]


def write_dataset(folder: Path, records: list[dict]) -> Path:
    (folder / "data" / "sft").mkdir(parents=True)
    pq.write_table(to_table(records), folder / "data" / "sft" / "train-00000.parquet")
    return folder


def fine_tune(folder: Path, data: Path, steps: int) -> tuple[Path, dict]:
    config = {"data": str(data), "output": str(folder / "model"), "save_steps": 10_000, "logging_steps": 10,
              "stages": [{"name": "sft", "objective": "sft", "method": "lora", "max_steps": steps, "batch_size": 4,
                          "max_length": 512, "learning_rate": 2e-4, "eval": False}]}
    path = folder / "train.yaml"
    path.write_text(yaml.safe_dump(config))
    report = train(path, resume=False, say=lambda m: None)
    return Path(report["merged"]), report["sft"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--items", type=int, default=300)
    args = ap.parse_args()
    if not PUBMEDQA.exists():
        sys.exit(f"{PUBMEDQA} is missing: this benchmark reads the PubMedQA labelled set from ../shared/data")
    start = time.perf_counter()
    loaded = load_recipe(ROOT / "recipes" / "demo.yaml")
    raw = conversations([r for spec in loaded.sources for r in read_records(spec)])
    run_recipe(loaded)  # cached after the first time
    curated = conversations([r for stage in loaded.recipe.mixture for f in
                             sorted((loaded.output / "data" / stage).glob("train-*.parquet"))
                             for r in from_table(pq.read_table(f))])
    spec = EvalSpec(benchmarks=[str(PUBMEDQA)], target="text", limit=args.items, seed=1)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        model, tok, _ = load_local(None)
        results["base model (no fine-tuning)"] = (None, evaluate(Target("base", model, tok), spec, say=print))
        for arm, records in (("raw sources", raw), ("curated mixture", curated)):
            folder = Path(tmp) / arm.replace(" ", "-")
            merged, stage = fine_tune(folder, write_dataset(folder / "export", records), args.steps)
            model, tok, _ = load_local(str(merged))
            results[arm] = ({"records": len(records), **stage["data"], "train_loss": stage["train_loss"]},
                            evaluate(Target(arm, model, tok), spec, say=print))
    minutes = (time.perf_counter() - start) / 60
    print(f"\nSmolLM2-135M-Instruct, LoRA, {args.steps} steps of 4 x 512-token packed sequences; PubMedQA, "
          f"{args.items} items (seed 1), log-likelihood of the option text; {minutes:.0f} minutes in all\n")
    print(f"Both arms trained on {args.steps * 4 * 512:,} token slots; the data's own size is shown.\n")
    print("| trained on | records | tokens in the data | packing | train loss | PubMedQA accuracy % | 95% CI |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for arm, (data, result) in results.items():
        e = result["summary"][0]
        cells = (f"{data['records']} | {data['tokens']:,} | {100 * data['packing_efficiency']:.1f}% | "
                 f"{data['train_loss']:.3f}" if data else "– | – | – | –")
        print(f"| {arm} | {cells} | {100 * e['accuracy']:.1f} | {100 * e['ci95'][0]:.1f}–{100 * e['ci95'][1]:.1f} |")


if __name__ == "__main__":
    main()
