"""Flags every step's command shares (defined once, here)."""

from __future__ import annotations

import os

from absl import flags

from console.flags import define_progress_flag

# Flags defined here belong to the command that asks for them (its --help lists them).
flags.disclaim_key_flags()


def define_common_flags() -> None:
    """Defines the flags every step shares: workers, seed and progress."""
    flags.DEFINE_integer("max_workers", os.cpu_count() or 1,
                         "Worker processes (1: run in this process).", lower_bound=1)
    flags.DEFINE_integer("seed", 0, "Seed of every random draw: the same seed gives the same "
                         "bytes, whatever --max_workers.")
    define_progress_flag()
