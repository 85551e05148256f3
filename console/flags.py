"""Flags that several commands share, defined in one place."""

from __future__ import annotations

import sys

from absl import flags

# Flags defined here belong to the command that asks for them (its --help lists them).
flags.disclaim_key_flags()


def define_progress_flag() -> None:
    """On a terminal a progress bar; in a log file (or CI) none, which would be redrawn
    there line after line."""
    flags.DEFINE_boolean("progress", sys.stderr.isatty(),
                         "Show a progress bar on stderr (default: when stderr is a terminal).")


def define_channels_flag(default_meaning: str) -> None:
    """--channels: 1 or 3; 0 means `default_meaning` (e.g. "the training channels")."""
    flags.DEFINE_integer("channels", 0, f"1 or 3; 0: {default_meaning}.", lower_bound=0,
                         upper_bound=3)
