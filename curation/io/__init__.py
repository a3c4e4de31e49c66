"""Reading any common format into canonical records, and writing them back out."""

from .reader import SourceSpec, read_batches, read_records
from .writers import open_writer

__all__ = ["SourceSpec", "open_writer", "read_batches", "read_records"]
