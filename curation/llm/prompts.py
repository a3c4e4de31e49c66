"""Prompt templates: Jinja2 files under recipes/prompts/, overridable by a recipe's own prompt folder.

A template's content hash is part of every request's cache key, so editing a template re-asks exactly the
requests made from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import xxhash

from ..errors import MedcurateError

SHIPPED = Path(__file__).resolve().parents[2] / "recipes" / "prompts"
LANGUAGE_NAMES = {"en": "English", "es": "Spanish", "zh": "Chinese (Simplified)", "ar": "Arabic", "fr": "French",
                  "de": "German", "pt": "Portuguese", "hi": "Hindi", "ja": "Japanese", "ru": "Russian",
                  "it": "Italian", "ko": "Korean"}


def language_name(code: str | None) -> str:
    return LANGUAGE_NAMES.get(code or "", code or "the same language")


class Prompts:
    def __init__(self, folder: str | Path | None = None):
        folders = [str(folder)] if folder else []
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader([*folders, str(SHIPPED)]),
                                      undefined=jinja2.StrictUndefined, keep_trailing_newline=False,
                                      autoescape=False)

    def render(self, name: str, **values: Any) -> tuple[str, str]:
        """The rendered text and the hash of the template's source."""
        file = name if name.endswith(".j2") else f"{name}.j2"
        try:
            source, _, _ = self.env.loader.get_source(self.env, file)  # type: ignore[union-attr]
            template = self.env.get_template(file)
            return template.render(**values).strip(), xxhash.xxh3_64_hexdigest(source.encode())
        except jinja2.TemplateNotFound:
            raise MedcurateError(f"no prompt template '{file}' (looked in {', '.join(self.env.loader.searchpath)})"
                                 ) from None
        except jinja2.UndefinedError as e:
            raise MedcurateError(f"prompt template '{file}': {e.message}") from None
