"""Object-store tables handed from task to task by reference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl
import pyarrow as pa


@dataclass(frozen=True)
class Stored:
    """Tables or a value in Ray's object store, handed on by reference: the worker that needs them fetches
    them itself, so the driver passes them along without holding them."""

    refs: tuple[Any, ...]

    def get(self) -> Any:
        import ray

        return ray.get(self.refs[0])

    def table(self) -> pa.Table | None:
        """The stored Arrow tables as one (None when they hold no rows)."""
        import ray

        tables = [t for t in ray.get(list(self.refs)) if t.num_rows]
        return pa.concat_tables(tables) if tables else None

    def frame(self, schema: dict[str, Any] | None = None) -> pl.DataFrame:
        table = self.table()
        return pl.from_arrow(table) if table is not None else pl.DataFrame(schema=schema)
