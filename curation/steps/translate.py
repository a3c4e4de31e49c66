"""translate: records into other languages, piece by piece, each translation verified before it is kept.

Every piece of text (each message, or a question's stem, options, explanation and passage) is translated
on its own and put back where it came from, so the structure cannot drift: options keep their labels and
the answer letter stays right. A translation is a new record (`parent_id`, `origin`); it is rejected with
the first check it fails: wrong output language, length out of proportion, a number or unit lost, a
glossary term not used, a copy of the source, or a back-translation too far from the source (chrF).
"""

from __future__ import annotations

import csv
import re
from typing import Any

from pydantic import Field

from ..errors import MedcurateError
from ..io.formats import render_mcq
from ..llm.client import Request
from ..llm.prompts import language_name
from ..llm.step import LLMStep, LLMStepConfig
from ..record import make_record
from .base import FILES, Record, Reject, StepResult, register

NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
UNITS = re.compile(r"(?<![A-Za-z])(mg|mcg|µg|μg|g|kg|ml|mL|L|mmol|mmHg|IU|U|°C|°F|%|bpm|mEq)(?![A-Za-z])")
CODE = re.compile(r"`[^`]+`")
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


class TranslateConfig(LLMStepConfig):
    to: list[str] = Field(min_length=1, description="Target languages (ISO 639-1).")
    prompt: str | None = "translate"
    max_tokens: int = 1024
    glossary: str | None = Field(None, description="TSV with a column per language code (en, es, zh, ar, ...).",
                                 json_schema_extra=FILES)
    keep_source: bool = Field(True, description="Keep the originals in the output beside their translations.")
    check_language: bool = True
    min_ratio: float = Field(0.4, gt=0, description="Shortest translation, relative to the source (weighted "
                                                    "length: a CJK character counts as three).")
    max_ratio: float = Field(2.5, gt=0)
    check_numbers: bool = Field(True, description="Every number, unit and `code` span of the source must remain.")
    check_glossary: bool = True
    check_copy: bool = Field(True, description="Reject a translation identical to its source.")
    back_translate: bool = Field(False, description="Translate back and compare with the source (chrF).")
    min_chrf: float = Field(35.0, ge=0, le=100, description="Lowest chrF of the back-translation.")


def load_glossary(path: str | None) -> list[dict[str, str]]:
    if not path:
        return []
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return [{k: (v or "").strip() for k, v in row.items() if k} for row in csv.DictReader(fh, delimiter="\t")]
    except OSError as e:
        raise MedcurateError(f"{path}: cannot read the glossary ({e.strerror})") from None


def segments(record: Record) -> list[tuple[tuple[Any, ...], str]]:
    """(where, text) for every piece to translate."""
    if record.get("mcq"):
        m = record["mcq"]
        out: list[tuple[tuple[Any, ...], str]] = [(("mcq", "question"), m["question"])]
        out += [(("mcq", "options", k), v) for k, v in m["options"].items()]
        out += [(("mcq", f), m[f]) for f in ("explanation", "context") if m.get(f)]
        return out
    if record.get("messages"):
        return [(("messages", i), msg["content"]) for i, msg in enumerate(record["messages"])]
    return [(("text",), record.get("text") or "")]


def rebuild(record: Record, texts: dict[tuple[Any, ...], str], lang: str, origin: str) -> Record:
    fields: dict[str, Any] = {"lang": lang, "parent_id": record["id"], "origin": origin}
    if record.get("mcq"):
        m = dict(record["mcq"])
        m["question"] = texts[("mcq", "question")]
        m["options"] = {k: texts[("mcq", "options", k)] for k in m["options"]}
        for f in ("explanation", "context"):
            if m.get(f):
                m[f] = texts[("mcq", f)]
        fields["mcq"] = m
        fields["messages"] = render_mcq(m)
    elif record.get("messages"):
        fields["messages"] = [{"role": msg["role"], "content": texts[("messages", i)]}
                              for i, msg in enumerate(record["messages"])]
    else:
        fields["text"] = texts[("text",)]
    return fields


def weighted_length(text: str) -> int:
    cjk = len(CJK.findall(text))
    return len(text) - cjk + 3 * cjk


def _numbers(text: str) -> list[str]:
    return sorted(n.replace(",", ".") for n in NUMBER.findall(text))


@register("translate")
class Translate(LLMStep):
    """Translate records into other languages with an LLM, verifying each translation."""

    Config = TranslateConfig
    default_prompt = "translate"
    config: TranslateConfig

    def _glossary_for(self, text: str, src: str, dst: str, glossary: list[dict[str, str]]) -> list[tuple[str, str]]:
        pairs = []
        low = text.lower()
        for row in glossary:
            s, d = row.get(src), row.get(dst)
            if s and d and (s.lower() in low if CJK.search(s) else re.search(rf"\b{re.escape(s.lower())}\b", low)):
                pairs.append((s, d))
        return pairs

    def check(self, source: str, output: str, src: str, dst: str, terms: list[tuple[str, str]]) -> str | None:
        """The first verification a translated piece fails, or None."""
        c = self.config
        if not output.strip():
            return "empty translation"
        if c.check_copy and output.strip() == source.strip() and NUMBER.sub("", source).strip():
            return "copy of the source"
        if c.check_language and len(output) >= 20:
            lang, _, _ = self.langid.detect(output)
            if lang != dst:
                return f"wrong language ({lang}, expected {dst})"
        ratio = weighted_length(output) / max(1, weighted_length(source))
        if not c.min_ratio <= ratio <= c.max_ratio:
            return f"length ratio out of bounds ({ratio:.2f})"
        if c.check_numbers:
            missing = [n for n in _numbers(source) if n not in _numbers(output)]
            missing += [u for u in UNITS.findall(source) if u not in output]
            missing += [code for code in CODE.findall(source) if code not in output]
            if missing:
                return f"numbers or units not preserved ({', '.join(missing[:3])})"
        if c.check_glossary:
            absent = [d for _, d in terms if d.lower() not in output.lower()]
            if absent:
                return f"glossary term missing ({absent[0]})"
        return None

    def apply(self, records: list[Record]) -> StepResult:
        c = self.config
        glossary = load_glossary(self.resolve(c.glossary))
        chosen = records if c.limit is None else records[: c.limit]
        if len(chosen) < len(records):
            self.tally["skipped: past limit"] += len(records) - len(chosen)
        chosen, rejected = self.with_languages(chosen)
        undecided = {id(r) for r, _ in rejected}
        jobs: list[tuple[Record, str, list[tuple[tuple[Any, ...], str]], list[list[tuple[str, str]]]]] = []
        requests: list[Request] = []
        for rec in chosen:
            src = rec["lang"]
            if all(dst == src for dst in c.to):
                self.tally[f"skipped: already in {src}"] += 1
                continue
            self.tally["sent"] += 1
            for dst in c.to:
                if dst == src:
                    continue
                segs = segments(rec)
                terms = [self._glossary_for(text, src, dst, glossary) for _, text in segs]
                for (_, text), pairs in zip(segs, terms):
                    requests.append(self._request(text, src, dst, pairs))
                jobs.append((rec, dst, segs, terms))
        replies = self.llm.complete(requests)
        candidates: list[tuple[Record, Record, list[tuple[str, str]]]] = []
        added: list[Record] = []
        k = 0
        for rec, dst, segs, terms in jobs:
            got = replies[k: k + len(segs)]
            k += len(segs)
            texts: dict[tuple[Any, ...], str] = {}
            failure: Reject | None = None
            for (where, text), pairs, reply in zip(segs, terms, got):
                out = (reply.text or "").strip()
                reason = f"llm request failed ({reply.error})" if reply.error else self.check(text, out, rec["lang"],
                                                                                             dst, pairs)
                if reason and failure is None:
                    failure = Reject(reason.split(" (")[0], {"piece": ".".join(map(str, where)), "why": reason,
                                                            "source": text[:300], "output": out[:300]})
                texts[where] = out
            fields = rebuild(rec, texts, dst, f"translate:{rec['lang']}->{dst}")
            meta = {k2: v for k2, v in rec.get("meta", {}).items() if k2 in ("license", "provenance")}
            new = make_record(rec["source"], rec["task"], meta={**meta, "translate": {"from": rec["lang"]}}, **fields)
            added.append(new)
            if failure is not None:
                rejected.append((new, failure))
            else:
                candidates.append((rec, new, list(zip([t for _, t in segs], [texts[w] for w, _ in segs]))))
        if c.back_translate and candidates:
            candidates, back_rejected = self._back_translate(candidates)
            rejected += back_rejected
        sources = [r for r in records if id(r) not in undecided]
        kept = (sources if c.keep_source else []) + [new for _, new, _ in candidates]
        if not c.keep_source:
            rejected += [(r, Reject("translated (source not kept)")) for r in sources]
        return StepResult(kept, rejected, added)

    def _request(self, text: str, src: str, dst: str, pairs: list[tuple[str, str]]) -> Request:
        prompt, template_hash = self.prompts.render(self.config.prompt or "translate", text=text,
                                                    source_name=language_name(src), target_name=language_name(dst),
                                                    glossary=pairs)
        return Request([{"role": "user", "content": prompt}], self.params(), template_hash)

    def _back_translate(self, candidates):
        from sacrebleu.metrics import CHRF

        chrf = CHRF()
        requests = [self._request(out, new["lang"], rec["lang"], []) for rec, new, pairs in candidates
                    for _, out in pairs]
        replies = self.llm.complete(requests)
        kept, rejected, k = [], [], 0
        for rec, new, pairs in candidates:
            got = replies[k: k + len(pairs)]
            k += len(pairs)
            source = "\n".join(s for s, _ in pairs)
            back = "\n".join((r.text or "") for r in got)
            score = chrf.sentence_score(back, [source]).score
            new["meta"]["translate"]["back_chrf"] = round(score, 1)
            if any(r.error for r in got):
                rejected.append((new, Reject("llm request failed", {"why": next(r.error for r in got if r.error)})))
            elif score < self.config.min_chrf:
                rejected.append((new, Reject("back-translation too far from the source",
                                             {"chrf": round(score, 1), "back": back[:300]})))
            else:
                kept.append((rec, new, pairs))
        return kept, rejected
