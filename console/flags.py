"""Flags that several commands share, defined in one place."""

from __future__ import annotations

from absl import flags


def define_progress_flag() -> None:
    flags.DEFINE_boolean("progress", True, "Show a progress bar on stderr.")


def define_channels_flag(default_meaning: str) -> None:
    """--channels: 1 or 3; 0 means `default_meaning` (e.g. "the training channels")."""
    flags.DEFINE_integer("channels", 0, f"1 or 3; 0: {default_meaning}.", lower_bound=0,
                         upper_bound=3)
