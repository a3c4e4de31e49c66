"""Training end to end: the stages of a train section, in order, then the merged model and its card.

A job comes from a training-only config file here, or from a recipe on the curation side
(`curation.recipe.train_after`), so this package never reads recipes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from curation.errors import MedcurateError
from curation.io.yaml_mapping import read_yaml_mapping

from .config import TrainConfig
from .stages import StageRunner


@dataclass(frozen=True)
class TrainJob:
    """A validated train section with everything it needs resolved: where its data is, where its weights go,
    the card's title, the folder relative paths start from, and the benchmarks its data was decontaminated
    against (None: nothing says)."""

    config: TrainConfig
    data: Path
    output: Path
    title: str
    base_dir: Path
    decontaminated: list[str] | None = None


def parse_train_section(section: Any, where: Path) -> TrainConfig:
    """The train section as a model; every problem listed with its path, the file named."""
    try:
        return TrainConfig.model_validate(section)
    except ValidationError as e:
        lines = [f"  train.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()]
        raise MedcurateError(f"{where}: {len(lines)} problem(s) in the train section\n" + "\n".join(lines)) from None


def config_job(data: dict[str, Any], path: Path) -> TrainJob:
    """The job a training-only config file describes (its content already read); paths relative to the file."""
    if "sources" in data:
        raise MedcurateError(f"{path}: this is a recipe, not a training-only config; train it with "
                             f"curation.recipe.train_recipe (what `medcurate train {path}` does)")
    cfg = parse_train_section(data, path)
    base = path.resolve().parent
    if not cfg.data:
        raise MedcurateError(f"{path}: say where the exported dataset is (data: folder)")
    output = base / cfg.output if cfg.output else base / f"{path.stem}-model"
    return TrainJob(cfg, base / cfg.data, output, path.stem, base)


def eval_table(cfg: TrainConfig, report: dict[str, Any]) -> str:
    """Benchmark accuracy of the base model and after each stage: what each stage added."""
    rows = [("base model", report.get("base-eval"))] + [(s.name, report[s.name].get("eval")) for s in cfg.stages]
    rows = [(name, scores) for name, scores in rows if scores]
    if not rows:
        return ""
    columns = [(e["benchmark"], e["style"]) for e in rows[0][1]]
    head = "| model | " + " | ".join(f"{b} ({st})" for b, st in columns) + " |"
    lines = [head, "|---|" + "---:|" * len(columns)]
    for name, scores in rows:
        by = {(e["benchmark"], e["style"]): e for e in scores}
        cells = [f"{100 * by[c]['accuracy']:.1f}% ({100 * by[c]['ci95'][0]:.1f}–{100 * by[c]['ci95'][1]:.1f})"
                 if c in by else "–" for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    n = ", ".join(f"{e['benchmark']}: {e['n']} items" for e in rows[0][1])
    return ("\n## Benchmarks\n\nAccuracy with a bootstrap 95% interval, scored by `medcurate eval` on the base "
            f"model and after each stage ({n}):\n\n" + "\n".join(lines) + "\n")


def _rewards(done: dict[str, Any]) -> str:
    """A preference stage's reward accuracy and margin on its validation pairs; a dash for other stages."""
    if done.get("reward_accuracy") is None:
        return "–"
    return f"{100 * done['reward_accuracy']:.1f}% ({done['reward_margin']:+.3f})"


def _win_rate(done: dict[str, Any]) -> str:
    """Wins, ties counted half, over the judge's valid verdicts; the counts beside, so a weak judge shows."""
    w = done.get("win_rate")
    if not w:
        return "–"
    rate = "–" if w.get("rate") is None else f"{100 * w['rate']:.1f}%"
    return f"{rate} ({w['wins']}/{w['ties']}/{w['losses']}, {w['invalid']} invalid)"


def model_card(title: str, cfg: TrainConfig, report: dict[str, Any]) -> str:
    rows = "\n".join(f"| {name} | {s.objective} | {s.method} | {s.adapter_policy} | {report[name]['steps']} | "
                     f"{report[name]['train_loss']:.4f} | {report[name].get('eval_loss', float('nan')):.4f} | "
                     f"{_rewards(report[name])} | {_win_rate(report[name])} |"
                     for name, s in ((s.name, s) for s in cfg.stages))
    base = cfg.model.path or ("random " + cfg.model.random.model_dump_json() if cfg.model.random
                              else "SmolLM2-135M-Instruct (GGUF)")
    return (f"---\ntags: [medical, medcurate]\n---\n\n# {title}: merged model\n\nBase: {base}. Trained by "
            f"medcurate on the dataset built by recipe `{title}`, stage after stage:\n\n"
            "| stage | objective | method | adapter policy | steps | train loss | eval loss | "
            "reward accuracy (margin), validation pairs | judge win rate over the stage before (won/tied/lost) |\n"
            "|---|---|---|---|---:|---:|---:|---:|---:|\n" + rows + "\n"
            + eval_table(cfg, report))


def run_job(job: TrainJob, *, resume: bool = True, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Train the job's stages in order (finished ones reused), then merge the last stage's weights."""
    cfg, data = job.config, job.data
    if not (data / "data").is_dir():
        raise MedcurateError(f"{data}: no exported dataset here (run `medcurate run` on the recipe first)")
    runner = StageRunner(cfg, data, job.output, say, base_dir=job.base_dir, decontaminated=job.decontaminated)
    report = runner.run(resume=resume)
    if cfg.merge and cfg.stages[-1].method in ("prompt", "prefix"):
        say(f"{cfg.stages[-1].method} tuning has no weights to merge: load {report[cfg.stages[-1].name]['adapter']} "
            f"with peft.PeftModel.from_pretrained")
    elif cfg.merge:
        merged = runner.merge(report, model_card(job.title, cfg, report))
        report["merged"] = str(merged)
        say(f"merged weights: {merged}")
    return report


def train(path: Path, *, resume: bool = True, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Train what a training-only config file describes (a recipe's train section: curation.recipe.train_recipe)."""
    path = Path(path)
    _, data = read_yaml_mapping(path, "a training config is a mapping (model, data, stages, ...)")
    return run_job(config_job(data, path), resume=resume, say=say)
