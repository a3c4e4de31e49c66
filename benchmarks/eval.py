"""Evaluation: SmolLM2-135M on the PubMedQA labelled set, medcurate's scorer against lm-evaluation-harness.

Run: .venv/bin/python benchmarks/eval.py [--items 1000] [--style-items 200] [--skip-baseline]

Both score the same items with the same prompt (medcurate's `eval_direct` template, rendered once and given
to lm-eval as a local task) and the same continuations (" yes", " no", " maybe"), so their log-likelihood
accuracies should agree; items per second are measured on the same machine in the same run. The
chain-of-thought and verification styles cost one generation or one prompt per option per item, so on a CPU
they run on a seeded sample of `--style-items` items (stated in the output).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from curation.llm.prompts import Prompts  # noqa: E402
from training.evaluation.config import EvalSpec  # noqa: E402
from training.evaluation.items import load_benchmark  # noqa: E402
from training.evaluation.models import load_local  # noqa: E402
from training.evaluation.run import Target, evaluate  # noqa: E402

PUBMEDQA = ROOT.parent / "shared" / "data" / "pubmedqa" / "ori_pqal.json"


def lm_eval_task(folder: Path, items: list, prompts: Prompts) -> str:
    """A local lm-eval task over exactly these items, with medcurate's rendered prompt as its text."""
    rows = []
    for it in items:
        text, _ = prompts.render("eval_direct", item=it, shots=[], target="text", mode="loglik", reasoning=None,
                                 option=None)
        labels = list(it.options)
        rows.append({"prompt": text, "choices": [it.options[k] for k in labels], "gold": labels.index(it.answer)})
    data = folder / "items.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "medcurate_pubmedqa.yaml").write_text(
        "task: medcurate_pubmedqa\ndataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    test: {data}\n"
        "test_split: test\noutput_type: multiple_choice\ndoc_to_text: prompt\ndoc_to_choice: choices\n"
        "doc_to_target: gold\nmetric_list:\n  - metric: acc\n")
    return "medcurate_pubmedqa"


def baseline(model, tokenizer, items: list, batch_size: int) -> tuple[float, float]:
    """(accuracy, items per second) from lm-eval's own multiple-choice scoring."""
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    with tempfile.TemporaryDirectory() as tmp:
        task = lm_eval_task(Path(tmp), items, Prompts())
        lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size)
        start = time.perf_counter()
        out = simple_evaluate(model=lm, tasks=[task], task_manager=TaskManager(include_path=tmp),
                              num_fewshot=0, log_samples=False)
        seconds = time.perf_counter() - start
    return out["results"][task]["acc,none"], len(items) / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--style-items", type=int, default=200, help="Items for the cot and verify styles.")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--skip-baseline", action="store_true")
    args = ap.parse_args()
    if not PUBMEDQA.exists():
        sys.exit(f"{PUBMEDQA} is missing: this benchmark reads the PubMedQA labelled set from ../shared/data")
    model, tokenizer, name = load_local(None)
    limit = args.items if args.items < 1000 else None
    items = load_benchmark(str(PUBMEDQA), limit, seed=1).items
    rows = []

    def ours(style: str, n: int | None) -> None:
        spec = EvalSpec(benchmarks=[str(PUBMEDQA)], styles=[style], target="text", batch_size=args.batch_size,
                        limit=n, max_tokens=64)
        result = evaluate(Target(name, model, tokenizer), spec, say=lambda m: None)
        e = result["summary"][0]
        rows.append((f"medcurate, {style}", e["n"], e["accuracy"], e["ci95"], e["items_per_s"]))
        print(rows[-1], flush=True)

    ours("direct", limit)
    if not args.skip_baseline:
        acc, rate = baseline(model, tokenizer, items, args.batch_size)
        rows.append(("lm-evaluation-harness (baseline)", len(items), acc, None, rate))
        print(rows[-1], flush=True)
    for style in ("verify", "cot"):
        ours(style, args.style_items)
    print("\nSmolLM2-135M-Instruct on PubMedQA (ori_pqal.json), log-likelihood of the option text, 0-shot:\n")
    print("| method | items | accuracy % | 95% CI | items/s |\n|---|---:|---:|---|---:|")
    for label, n, acc, ci, rate in rows:
        interval = f"{100 * ci[0]:.1f}–{100 * ci[1]:.1f}" if ci else "–"
        print(f"| {label} | {n} | {100 * acc:.1f} | {interval} | {rate:.2f} |")
    direct = rows[0]
    if not args.skip_baseline:
        base = rows[1]
        print(f"\ndirect vs baseline: accuracy difference {100 * (direct[2] - base[2]):+.1f} points "
              f"(target: within 1), speed {direct[4] / base[4]:.2f}x (target: at least 1x)")


if __name__ == "__main__":
    main()
