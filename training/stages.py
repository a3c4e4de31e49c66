"""Stage chaining: each stage trains on its exported dataset, starting from the weights the previous one left.

Every stage folder records where its weights start (`base`: full weights on disk) and what it produced
(an adapter, or full weights), in `stage.json`, written last. A run skips stages that have it, and a stage
that was interrupted continues from its last checkpoint; so `--resume` after a kill ends at the same step.
Adapter policies: `continue` keeps training the previous adapter on the same base; `merge_then_new` merges
the previous adapter into a new base and starts a fresh adapter; `full` trains all weights.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import torch
from tqdm.auto import tqdm
from transformers import ProgressCallback, TrainerCallback

from curation.errors import MedcurateError
from curation.record import from_table
from curation.workdir import file_digest, fingerprint

from .attention import collator_attention
from .config import StageSpec, TrainConfig
from .data import Collator, Tally, examples_from_records, fit, pack_best_fit, pack_stream, unpacked
from .loss import LearnedPositionsTrainer
from .model import load_model, load_tokenizer, module_names
from .peft_setup import adapter_config, check_method
from .preference import (
    PairCollator,
    PreferenceTrainer,
    add_reference,
    build,
    check_data,
    check_settings,
    data_kind,
    evaluate_pairs,
    read_rows,
    split_columns,
    unpair,
)

DONE = "stage.json"


def read_split(data: Path, stage: str, split: str) -> list[dict[str, Any]] | None:
    files = sorted((data / "data" / stage).glob(f"{split}-*.parquet"))
    if not files:
        return None
    return [r for f in files for r in from_table(pq.read_table(f))]


def build_dataset(records: list[dict[str, Any]], tokenizer: Any, stage: StageSpec, where: str
                  ) -> tuple[list[dict[str, Any]], Tally]:
    tally = Tally()
    examples = examples_from_records(records, tokenizer, stage.objective, where)
    streamed = stage.objective == "cpt" and stage.packing  # long documents continue in the next sequence
    examples = fit(examples, sys.maxsize if streamed else stage.max_length, stage.overlong, tally)
    if stage.objective == "cpt" and stage.packing:
        seqs = pack_stream(examples, stage.max_length, tally)
    elif stage.packing:
        seqs = pack_best_fit(examples, stage.max_length, tally)
    else:
        seqs = unpacked(examples, stage.max_length, tally)
    return [{"input_ids": s.input_ids, "labels": s.labels, "lengths": s.lengths} for s in seqs], tally


def _last_checkpoint(folder: Path) -> str | None:
    """The newest complete checkpoint; one a kill interrupted (no trainer_state.json yet) is ignored."""
    points = sorted((p for p in folder.glob("checkpoint-*") if (p / "trainer_state.json").exists()),
                    key=lambda p: int(p.name.split("-")[1]))
    return str(points[-1]) if points else None


class StageRunner:
    def __init__(self, cfg: TrainConfig, data: Path, output: Path, say: Callable[[str], None] = print,
                 base_dir: Path | None = None, decontaminated: list[str] | None = None):
        self.cfg, self.data, self.output, self.say = cfg, data, output, say
        self.base_dir, self.decontaminated = base_dir, decontaminated
        self.tokenizer = load_tokenizer(cfg.model)

    def eval_key(self) -> str:
        """What a stored score was computed for: the base model and the train section's eval settings."""
        return fingerprint(self.cfg.model.model_dump(), self.cfg.eval.model_dump() if self.cfg.eval else None)

    def score(self, model: Any, name: str, folder: Path) -> list[dict[str, Any]] | None:
        """The train section's benchmarks on `model`, written to `folder`; a short summary back."""
        if self.cfg.eval is None:
            return None
        from .evaluation.results import write
        from .evaluation.run import Target, evaluate

        was_training = model.training
        model.eval()
        result = evaluate(Target(name, model, self.tokenizer), self.cfg.eval, base_dir=self.base_dir,
                          decontaminated=self.decontaminated, say=self.say)
        model.train(was_training)
        write(result, folder)
        return [{k: e[k] for k in ("benchmark", "style", "n", "accuracy", "ci95", "unparseable")}
                for e in result["summary"]]

    def score_base(self) -> list[dict[str, Any]] | None:
        """The base model's scores, once (kept in base-eval/), so the card can show what stage 1 added."""
        if self.cfg.eval is None:
            return None
        folder = self.output / "base-eval"
        key = self.eval_key()
        saved = json.loads((folder / "summary.json").read_text()) if (folder / "summary.json").exists() else {}
        if isinstance(saved, dict) and saved.get("key") == key:
            return saved["summary"]
        model = self.original_model()
        summary = self.score(model, "base model", folder)
        (folder / "summary.json").write_text(json.dumps({"key": key, "summary": summary}, indent=2))
        return summary

    def validate(self) -> None:
        """Everything that can be checked before any training starts."""
        names = [s.name for s in self.cfg.stages]
        for i, stage in enumerate(self.cfg.stages):
            where = f"train.stages[{i}] ({stage.name})"
            check_method(stage, where)
            if not (self.data / "data" / stage.name).is_dir():
                raise MedcurateError(f"{where}: no exported data for '{stage.name}' in {self.data / 'data'} "
                                     f"(stages there: {', '.join(p.name for p in (self.data / 'data').glob('*'))})")
            if stage.method in ("prompt", "prefix") and i < len(self.cfg.stages) - 1:
                raise MedcurateError(f"{where}: {stage.method} tuning can only be the last stage (its virtual "
                                     f"tokens cannot be merged into weights for the next stage)")
            if i == 0 and stage.adapter_policy == "continue" and stage.method != "full":
                stage.adapter_policy = "merge_then_new"  # nothing to continue from yet
            check_settings(stage, where, i, names[i - 1] if i else None)
            kind = data_kind(split_columns(self.data, stage.name, "train"))
            if stage.preference or kind is not None:
                rows = self.preference_rows(stage, "train", kind) or []
                check_data(rows, kind, stage, where)
                build(rows, self.tokenizer, stage, f"{where} train")
                continue
            records = read_split(self.data, stage.name, "train") or []
            if not records:
                raise MedcurateError(f"{where}: the train split is empty")
            sample = records[:50]
            examples = examples_from_records(sample, self.tokenizer, stage.objective, f"{where} train")
            shortest_prompt = min((ex.labels.index(next(x for x in ex.labels if x != -100))
                                   for ex in examples if any(x != -100 for x in ex.labels)), default=0)
            if stage.objective == "sft" and shortest_prompt >= stage.max_length:
                raise MedcurateError(f"{where}: max_length {stage.max_length} is shorter than the prompts "
                                     f"(the shortest is {shortest_prompt} tokens): nothing would be learned")
        wanted = {m for s in self.cfg.stages if s.method in ("lora", "dora", "qlora")
                  and isinstance(s.lora.target_modules, list) for m in s.lora.target_modules}
        if wanted:
            present = module_names(self.cfg.model, self.tokenizer)
            unknown = sorted(wanted - present)
            if unknown:
                linear = sorted(n for n in present if n.endswith("proj"))
                raise MedcurateError(f"train.stages: unknown target module(s) {', '.join(unknown)} "
                                     f"(this model has: {', '.join(linear)})")
        if len(set(names)) != len(names):
            raise MedcurateError("train.stages: a stage name appears twice")

    def preference_rows(self, stage: StageSpec, split: str, kind: str | None = None) -> list[dict[str, Any]] | None:
        """A preference split's rows; paired rows unpaired for kto."""
        rows = read_rows(self.data, stage.name, split)
        kind = kind or data_kind(split_columns(self.data, stage.name, split))
        if rows and stage.objective == "kto" and kind == "paired":
            return unpair(rows)
        return rows

    def base_folder(self) -> Path:
        """The original weights on disk (a random model is saved once, so every stage can start from a folder)."""
        spec = self.cfg.model
        if spec.random is None:
            return Path(spec.path) if spec.path else Path("")
        folder = self.output / "base"
        if not (folder / "config.json").exists():
            model = load_model(spec, self.tokenizer)
            model.save_pretrained(folder)
            self.tokenizer.save_pretrained(folder)
        return folder

    def _load_weights(self, base: str | None):
        return load_model(self.cfg.model, self.tokenizer, weights=base or None)

    def _merged(self, base: str | None, adapter: str) -> Any:
        from peft import PeftModel

        return PeftModel.from_pretrained(self._load_weights(base), adapter).merge_and_unload()

    def original_model(self) -> Any:
        """The base model as the first stage starts from it (a random model from its saved folder)."""
        return self._load_weights(str(self.base_folder()) if self.cfg.model.random is not None else None)

    def finished_model(self, done: dict[str, Any]) -> Any:
        """The weights a finished stage left (its `stage.json`): base plus merged adapter, or full weights."""
        return self._merged(done["base"], done["adapter"]) if done.get("adapter") else self._load_weights(done["model"])

    def start_model(self, k: int, stage: StageSpec, folder: Path) -> tuple[Any, str | None]:
        """The model stage k trains, and the full-weights folder it starts from (None: the original base)."""
        from peft import PeftModel, get_peft_model

        prev = json.loads((self.output / self.cfg.stages[k - 1].name / DONE).read_text()) if k else None
        base: str | None = str(self.base_folder()) if self.cfg.model.random is not None else None
        if prev is not None:
            base = prev["base"]
            if prev.get("adapter") and stage.adapter_policy in ("merge_then_new", "full"):
                merged = self._merged(base, prev["adapter"])
                base = str(folder / "base")
                merged.save_pretrained(base)
                self.tokenizer.save_pretrained(base)  # every full-weights folder loads on its own
            elif prev.get("model"):
                base = prev["model"]
        model = self._load_weights(base)
        if stage.method == "full":
            return model, base
        if prev is not None and prev.get("adapter") and stage.adapter_policy == "continue":
            return PeftModel.from_pretrained(model, prev["adapter"], is_trainable=True), base
        return get_peft_model(model, adapter_config(stage)), base

    def stage_key(self, k: int, previous: str) -> str:
        """What a finished stage was made from: its data, its settings, the model and the stage before it."""
        stage = self.cfg.stages[k]
        data = self.data / "data" / stage.name
        return fingerprint(previous, stage.model_dump(), self.cfg.model.model_dump(), self.cfg.seed,
                           file_digest(data) if data.exists() else None)

    def finished(self, folder: Path, key: str) -> dict[str, Any] | None:
        """A stage finished earlier from the same inputs, scored again if the eval section is new or changed."""
        done = json.loads((folder / DONE).read_text()) if (folder / DONE).exists() else None
        if done is None or done.get("key") != key:
            return None
        if self.cfg.eval is not None and done.get("eval_key") != self.eval_key():
            model = self.finished_model(done)
            done.update(eval=self.score(model, f"after {done['stage']}", folder), eval_key=self.eval_key())
            (folder / DONE).write_text(json.dumps(done, indent=2))
        return done

    def run(self, resume: bool = True) -> dict[str, Any]:
        """Every stage in order, each keyed by its inputs and the stage before it; the base model scored first."""
        self.validate()
        report: dict[str, Any] = {}
        base_scores = self.score_base()
        if base_scores is not None:
            report["base-eval"] = base_scores
        key = ""
        for k, stage in enumerate(self.cfg.stages):
            key = self.stage_key(k, key)
            report[stage.name] = self.run_stage(k, stage, key, resume)
        return report

    def run_stage(self, k: int, stage: StageSpec, key: str, resume: bool) -> dict[str, Any]:
        """One stage: reused when it finished from the same inputs, else trained and saved."""
        folder = self.output / stage.name
        done = self.finished(folder, key) if resume else None
        if done is not None:
            self.say(f"stage {stage.name}: finished earlier from the same data and settings, skipped")
            return done
        self.prepare_folder(stage, folder, key, resume)
        model, base = self.start_model(k, stage, folder)
        if self.cfg.gradient_checkpointing:
            model.gradient_checkpointing_enable()
        metrics = self.train_stage(k, stage, model, folder, resume)
        done = self.save_stage(stage, model, folder, {"stage": stage.name, "key": key, "base": base, **metrics})
        self.say(f"stage {stage.name}: loss {metrics['train_loss']:.4f} after {metrics['steps']} steps; "
                 f"packing efficiency {metrics['data']['packing_efficiency']:.1%}")
        return done

    def prepare_folder(self, stage: StageSpec, folder: Path, key: str, resume: bool) -> None:
        """The stage's folder, marked with its key; checkpoints of a run from other data or settings (or any,
        without `resume`) removed, since they must not be resumed."""
        started = folder / "key"
        if folder.exists() and (not started.exists() or started.read_text() != key):
            self.say(f"stage {stage.name}: its data or settings changed since it was trained; training it again")
            shutil.rmtree(folder)
        if not resume:
            shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        started.write_text(key)

    def train_stage(self, k: int, stage: StageSpec, model: Any, folder: Path, resume: bool) -> dict[str, Any]:
        """The stage's objective on its data, from its last complete checkpoint when resuming."""
        checkpoint = _last_checkpoint(folder / "checkpoints") if resume else None
        if checkpoint:
            self.say(f"stage {stage.name}: resuming from {checkpoint}")
        if stage.preference:
            return self.train_preference(k, stage, model, folder, checkpoint)[0]
        return self.train_lm(stage, model, folder, checkpoint)[0]

    def save_stage(self, stage: StageSpec, model: Any, folder: Path, done: dict[str, Any]) -> dict[str, Any]:
        """The trained stage scored and saved (an adapter, or full weights), `stage.json` written last."""
        scores = self.score(model, f"after {stage.name}", folder)
        if scores is not None:
            done.update(eval=scores, eval_key=self.eval_key())
        if stage.method == "full":
            model.save_pretrained(folder / "model")
            self.tokenizer.save_pretrained(folder / "model")
            done["model"] = str(folder / "model")
        else:
            model.save_pretrained(folder / "adapter")
            done["adapter"] = str(folder / "adapter")
        (folder / DONE).write_text(json.dumps(done, indent=2))
        return done

    def arguments(self, stage: StageSpec, folder: Path, model: Any, evaluate: bool) -> Any:
        from transformers import TrainingArguments

        cuda = torch.cuda.is_available()
        return TrainingArguments(
            output_dir=str(folder / "checkpoints"), per_device_train_batch_size=stage.batch_size,
            per_device_eval_batch_size=stage.batch_size, gradient_accumulation_steps=stage.grad_accum,
            learning_rate=stage.learning_rate, num_train_epochs=stage.epochs, max_steps=stage.max_steps,
            warmup_steps=stage.warmup_ratio, lr_scheduler_type=stage.scheduler,  # warm-up below 1: a share of steps
            logging_steps=self.cfg.logging_steps,
            save_steps=self.cfg.save_steps, save_total_limit=2, seed=self.cfg.seed, report_to=[],
            remove_unused_columns=False, eval_strategy="epoch" if evaluate else "no", prediction_loss_only=True,
            use_cpu=not cuda, bf16=cuda and model.dtype == torch.bfloat16, dataloader_num_workers=0,
            disable_tqdm=False)

    def train_lm(self, stage: StageSpec, model: Any, folder: Path, checkpoint: str | None
                 ) -> tuple[dict[str, Any], Tally]:
        """sft / cpt: packed examples, the loss at the learned positions."""
        train_records = read_split(self.data, stage.name, "train") or []
        train, tally = build_dataset(train_records, self.tokenizer, stage, f"{self.data}/data/{stage.name} train")
        val_records = read_split(self.data, stage.name, "validation") if stage.eval else None
        val = build_dataset(val_records, self.tokenizer, stage, "validation")[0] if val_records else None
        collate = Collator(self.tokenizer.pad_token_id, collator_attention(model))
        trainer = LearnedPositionsTrainer(model=model, args=self.arguments(stage, folder, model, bool(val)),
                                          train_dataset=train, eval_dataset=val, data_collator=collate,
                                          callbacks=[JsonLog(folder / "log.jsonl")])
        StageBar.replace_default(trainer, f"stage {stage.name}")
        result = trainer.train(resume_from_checkpoint=checkpoint)
        metrics = {"train_loss": result.training_loss, "steps": result.global_step, "data": tally.to_dict()}
        if val:
            metrics["eval_loss"] = trainer.evaluate()["eval_loss"]
        return metrics, tally

    def train_preference(self, k: int, stage: StageSpec, model: Any, folder: Path, checkpoint: str | None
                         ) -> tuple[dict[str, Any], Any]:
        """dpo / ipo / kto / orpo / simpo: pairs packed per batch, reference log-probabilities computed once from the
        model the stage starts from, reward accuracy and margin on the validation pairs."""
        where = f"{self.data}/data/{stage.name}"
        train, tally = build(self.preference_rows(stage, "train") or [], self.tokenizer, stage, f"{where} train")
        val_rows = self.preference_rows(stage, "validation") if stage.eval else None
        val = build(val_rows, self.tokenizer, stage, f"{where} validation")[0] if val_rows else []
        collate = PairCollator(self.tokenizer.pad_token_id, collator_attention(model))
        prev = self.cfg.stages[k - 1].name if k else None
        continued = prev is not None and stage.adapter_policy == "continue" and stage.method != "full"
        for examples in (train, val):
            add_reference(model, examples, stage, collate, fresh_adapter=not continued)
        trainer = PreferenceTrainer(model=model, args=self.arguments(stage, folder, model, False), train_dataset=train,
                                    data_collator=collate, callbacks=[JsonLog(folder / "log.jsonl")], stage=stage)
        StageBar.replace_default(trainer, f"stage {stage.name}")
        result = trainer.train(resume_from_checkpoint=checkpoint)
        # every batch's loss, not only the logged ones: a short stage may end before its first logging step
        losses = trainer.batch_losses
        metrics: dict[str, Any] = {"objective": stage.objective, "train_loss": result.training_loss,
                                   "steps": result.global_step, "data": tally.to_dict(),
                                   "first_loss": losses[0] if losses else None,
                                   "last_loss": losses[-1] if losses else None}
        if val:
            metrics.update(evaluate_pairs(model, val, stage, collate))
        judged = self.win_rate(k, stage, model, val_rows or [])
        if judged is not None:
            metrics["win_rate"] = judged
        return metrics, tally

    def stage_before(self, k: int) -> Any:
        """The model stage k started from, loaded again (for a `continue` adapter or a full fine-tune, whose
        starting weights are no longer in memory)."""
        if k == 0:
            return self.original_model()
        return self.finished_model(json.loads((self.output / self.cfg.stages[k - 1].name / DONE).read_text()))

    def win_rate(self, k: int, stage: StageSpec, model: Any, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The judge's win rate of the aligned model over the stage-before model on the validation prompts. With a
        fresh adapter the stage-before model is this one with its adapter disabled, so nothing is loaded twice."""
        spec = self.cfg.eval.win_rate if self.cfg.eval is not None else None
        if spec is None or not rows:
            return None
        from .evaluation.winrate import win_rate

        prompts = [list(r["prompt"]) for r in rows]
        langs = [r.get("lang") for r in rows]
        fresh = stage.method != "full" and (k == 0 or stage.adapter_policy != "continue")
        before = None if fresh else self.stage_before(k)
        result = win_rate(model, self.tokenizer, prompts, spec, before=before,
                          before_context=model.disable_adapter if fresh else None, langs=langs,
                          cache_path=self.output / "judge-cache.sqlite")
        summary = {k2: v for k2, v in result.to_dict().items() if k2 != "rows"}
        (self.output / stage.name / "win_rate.json").write_text(json.dumps(result.to_dict(), indent=2,
                                                                           ensure_ascii=False), encoding="utf-8")
        rate = "no valid verdict" if result.rate is None else f"{result.rate:.1%}"
        self.say(f"stage {stage.name}: judge win rate over the stage before: {rate} ({result.wins} won, "
                 f"{result.losses} lost, {result.ties} tied, {result.invalid} invalid verdicts)")
        return summary

    def merge(self, report: dict[str, Any], card: str) -> Path:
        last = report[self.cfg.stages[-1].name]
        model = self.finished_model(last)
        out = self.output / "merged"
        model.save_pretrained(out)
        self.tokenizer.save_pretrained(out)
        (out / "README.md").write_text(card, encoding="utf-8")
        return out


class JsonLog(TrainerCallback):
    """Trainer logs as JSON lines, beside the console's progress bar."""

    def __init__(self, path: Path):
        self.path = path

    def on_log(self, args, state, control, logs=None, **kwargs) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"step": state.global_step, **(logs or {})}) + "\n")


class StageBar(ProgressCallback):
    """The trainer's step bar, named after the stage: one progress display for the stage. The log dicts the
    default bar prints are in log.jsonl already (JsonLog), and evaluation batches get no bar of their own."""

    def __init__(self, label: str):
        super().__init__()
        self.label = label

    @classmethod
    def replace_default(cls, trainer: Any, label: str) -> None:
        trainer.remove_callback(ProgressCallback)
        trainer.add_callback(cls(label))

    def on_train_begin(self, args, state, control, **kwargs) -> None:
        if state.is_world_process_zero:
            # disable=False: shown even where TQDM_DISABLE quiets other libraries' bars (the command line sets it)
            self.training_bar = tqdm(total=state.max_steps, desc=self.label, dynamic_ncols=True, disable=False)
        self.current_step = 0

    def on_prediction_step(self, args, state, control, eval_dataloader=None, **kwargs) -> None:
        return None

    def on_log(self, args, state, control, logs=None, **kwargs) -> None:
        return None
