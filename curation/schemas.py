"""The JSON Schemas under schemas/ are generated from the pydantic models, never edited by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .record import json_schema as record_schema


def all_schemas() -> dict[str, dict[str, Any]]:
    from .recipe.model import recipe_schema

    return {"record.schema.json": record_schema(), "recipe.schema.json": recipe_schema()}


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def write_schemas(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in all_schemas().items():
        path = out_dir / name
        path.write_text(render(schema))
        written.append(path)
    return written
