"""Reading a YAML file that must hold a mapping (a step config, a training config, an LLM config), with one
clear error naming the file, whichever command or package reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import MedcurateError


def read_yaml_mapping(path: Path, expected: str) -> tuple[str, dict[str, Any]]:
    """The file's text and its content; an empty file is an empty mapping. `expected` finishes the error for
    content that is not a mapping ("a training config is a mapping (model, data, stages, ...)")."""
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise MedcurateError(f"{path}: cannot read ({e})") from None
    if not isinstance(data, dict):
        raise MedcurateError(f"{path}: {expected}")
    return text, data
