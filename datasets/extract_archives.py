"""CLI: check a folder of archives, then extract them safely (see `datasets.interchange.archives`).

    python -m datasets.extract_archives ARCHIVE_DIR OUT_DIR [--manifest FILE]
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from console.flags import define_progress_flag
from datasets.interchange.archives import (
    DEFAULT_MAX_EXPANSION_RATIO,
    DEFAULT_MAX_EXTRACTED_BYTES,
    ArchiveError,
    extract_archives,
)

FLAGS = flags.FLAGS
flags.DEFINE_string(
    "manifest", None,
    "Text file listing the expected archives, one per line as 'name' or 'sha256  name'; "
    "without it, every archive in ARCHIVE_DIR is expected and any other file is an error.",
)
flags.DEFINE_integer(
    "num_workers", os.cpu_count() or 1, "Archives extracted in parallel.", lower_bound=1
)
flags.DEFINE_float(
    "max_expansion_ratio", DEFAULT_MAX_EXPANSION_RATIO,
    "Refuse an archive whose members declare more than this many times its own size "
    "(a decompression bomb).", lower_bound=1.0)
flags.DEFINE_float(
    "max_extracted_gb", DEFAULT_MAX_EXTRACTED_BYTES / 1e9,
    "Refuse a set of archives that declares more than this many GB in all.",
    lower_bound=0.0)
define_progress_flag()


def main(argv: Sequence[str]) -> int:
    """Extracts the archives of ARCHIVE_DIR into OUT_DIR (checked against a manifest when given);
    returns the exit code."""
    from console.errors import fail, run_cli

    if len(argv) != 3:
        return fail("usage: python -m datasets.extract_archives ARCHIVE_DIR OUT_DIR "
                    "[--manifest FILE]")

    def run() -> int:
        try:
            names = extract_archives(
                argv[1], argv[2], FLAGS.manifest, FLAGS.num_workers, FLAGS.progress,
                FLAGS.max_expansion_ratio, int(FLAGS.max_extracted_gb * 1e9))
        except (ArchiveError, FileExistsError) as exc:
            return fail(str(exc))
        print(f"extracted {len(names)} archive(s) into {argv[2]}: {', '.join(names)}")
        return 0

    return run_cli(run)


if __name__ == "__main__":
    app.run(main)
