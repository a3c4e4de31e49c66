"""medcurate: curation of multilingual medical instruction data."""

__version__ = "0.1.0"
