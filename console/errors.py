"""One-line errors and exit codes shared by every command.

A command's `main` runs inside `run_cli`: an expected failure (bad input, a
missing file, a dead worker) becomes `error: <one line>` on stderr and exit 2,
Ctrl-C exit 130. Stages with failures of their own (the catalog's database
errors) pass a `describe` that turns them into that line too.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from absl import app

from console.text import printable

EXIT_FATAL = 2
EXIT_INTERRUPTED = 130
EXPECTED_ERRORS = (
    ChildProcessError,  # a worker process died (dicom.ingestion.ingest_workers.WorkerDied)
    FileExistsError,
    FileNotFoundError,
    NotADirectoryError,
    PermissionError,
    ValueError,
)


def require_no_arguments(argv: Sequence[str]) -> None:
    """Every CLI here takes flags only; absl leaves anything else in argv."""
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")


def fail(message: str, code: int = EXIT_FATAL) -> int:
    """Print `message` as the one `error:` line on stderr; the exit status to return."""
    print(f"error: {printable(message)}", file=sys.stderr)
    return code


def one_line(exc: BaseException) -> str:
    """`exc`'s message on one line (whitespace folded), or its type's name when empty."""
    return " ".join(str(exc).split()) or type(exc).__name__


def run_cli(main: Callable[[], int], interrupted_hint: str = "",
            describe: Callable[[Exception], str | None] | None = None) -> int:
    """Run `main`, turning expected failures into `error: ...` on one line."""
    try:
        return main()
    except KeyboardInterrupt:
        return fail(f"interrupted. {interrupted_hint}".strip(), EXIT_INTERRUPTED)
    except EXPECTED_ERRORS as exc:
        return fail(one_line(exc))
    except Exception as exc:
        message = describe(exc) if describe is not None else None
        if message is None:
            raise
        return fail(message)
