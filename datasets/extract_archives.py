"""CLI: check a folder of archives, then extract them safely (see `datasets.interchange.archives`).

    python -m datasets.extract_archives ARCHIVE_DIR OUT_DIR [--manifest FILE]
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from console.flags import define_progress_flag
from datasets.interchange.archives import ArchiveError, extract_archives

FLAGS = flags.FLAGS
flags.DEFINE_string(
    "manifest", None,
    "Text file listing the expected archives, one per line as 'name' or 'sha256  name'; "
    "without it, every archive in ARCHIVE_DIR is expected and any other file is an error.",
)
flags.DEFINE_integer(
    "num_workers", os.cpu_count() or 1, "Archives extracted in parallel.", lower_bound=1
)
define_progress_flag()


def main(argv: Sequence[str]) -> int:
    from console.errors import fail, run_cli

    if len(argv) != 3:
        return fail("usage: python -m datasets.extract_archives ARCHIVE_DIR OUT_DIR "
                    "[--manifest FILE]")

    def run() -> int:
        try:
            names = extract_archives(
                argv[1], argv[2], FLAGS.manifest, FLAGS.num_workers, FLAGS.progress
            )
        except (ArchiveError, FileExistsError) as exc:
            return fail(str(exc))
        print(f"extracted {len(names)} archive(s) into {argv[2]}: {', '.join(names)}")
        return 0

    return run_cli(run)


if __name__ == "__main__":
    app.run(main)
