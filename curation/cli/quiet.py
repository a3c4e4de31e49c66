"""Quieting the third-party libraries the command line drives: their warnings and progress bars are about
their own internals, which a user of medcurate cannot act on. `--verbose` keeps them all.

Set at the command line's entry, before any of those libraries is imported (tqdm reads its environment on
import); the project's own progress (rich bars, the trainer's stage bar) and errors are untouched.
"""

from __future__ import annotations

import os
import warnings

# tqdm's and the Hugging Face libraries' documented switches: GGUF de-quantisation, weight loading and shard
# writing bars, download bars, and transformers' info and warning log lines
ENVIRONMENT = {"TQDM_DISABLE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "TRANSFORMERS_VERBOSITY": "error"}

# (message start, category): each a warning about a library's internals that the project's use triggers
WARNINGS = (
    # transformers' own Trainer asks the model for the deprecated attribute
    (r"`is_gradient_checkpointing` is deprecated", FutureWarning),
    # peft looks for a config.json beside the GGUF file of the embedded model, which has none
    (r"Could not find a config file in ", UserWarning),
)


def quiet_third_party() -> None:
    """Silence the libraries' noise for this process and the ones it starts; a variable the user set wins."""
    for name, value in ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    for message, category in WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
