"""`medcurate train`: the stages of a recipe's `train` section (or of a training-only config) end to end."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from curation.errors import MedcurateError

from .config import TrainConfig
from .stages import StageRunner


def load_train_config(path: Path) -> tuple[TrainConfig, Path, Path, str, list[str] | None]:
    """(config, data folder, output folder, title, the recipe's decontamination benchmarks) from a recipe or a
    training-only config file (which has no decontamination list)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise MedcurateError(f"{path}: cannot read ({e})") from None
    base = path.resolve().parent
    if "sources" in data:  # a recipe: the data is its export
        from curation.recipe import load_recipe

        loaded = load_recipe(path)
        section, title = data.get("train"), loaded.recipe.name
        if not section:
            raise MedcurateError(f"{path}: the recipe has no train section")
        default_data, default_out = loaded.output, loaded.output.parent / f"{loaded.recipe.name}-model"
        decontaminated: list[str] | None = loaded.decontaminated_against()
    else:
        section, title, decontaminated = data, path.stem, None
        default_data, default_out = None, base / f"{path.stem}-model"
    try:
        cfg = TrainConfig.model_validate(section)
    except ValidationError as e:
        lines = [f"  train.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()]
        raise MedcurateError(f"{path}: {len(lines)} problem(s) in the train section\n" + "\n".join(lines)) from None
    data_dir = (base / cfg.data) if cfg.data else default_data
    if data_dir is None:
        raise MedcurateError(f"{path}: say where the exported dataset is (data: folder)")
    output = (base / cfg.output) if cfg.output else default_out
    return cfg, Path(data_dir), Path(output), title, decontaminated


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


def train(path: Path, *, resume: bool = True, say: Callable[[str], None] = print) -> dict[str, Any]:
    cfg, data, output, title, decontaminated = load_train_config(path)
    if not (data / "data").is_dir():
        raise MedcurateError(f"{data}: no exported dataset here (run `medcurate run` on the recipe first)")
    runner = StageRunner(cfg, data, output, say, base_dir=path.resolve().parent, decontaminated=decontaminated)
    report = runner.run(resume=resume)
    if cfg.merge and cfg.stages[-1].method in ("prompt", "prefix"):
        say(f"{cfg.stages[-1].method} tuning has no weights to merge: load {report[cfg.stages[-1].name]['adapter']} "
            f"with peft.PeftModel.from_pretrained")
    elif cfg.merge:
        merged = runner.merge(report, model_card(title, cfg, report))
        report["merged"] = str(merged)
        say(f"merged weights: {merged}")
    return report
