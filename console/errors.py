"""One-line errors and exit codes shared by the dicom CLIs."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from absl import app
from sqlalchemy.exc import SQLAlchemyError

from dicom.ingestion.database_url import DatabaseUnavailable
from dicom.metadata.deidentify import DeidentificationKeyError

EXIT_FATAL = 2
EXIT_INTERRUPTED = 130
EXPECTED_ERRORS = (
    ChildProcessError,  # an ingest worker died (dicom.ingestion.ingest_workers.WorkerDied)
    DatabaseUnavailable,
    DeidentificationKeyError,
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
    print(f"error: {message}", file=sys.stderr)
    return code


def run_cli(main: Callable[[], int], interrupted_hint: str = "") -> int:
    """Run `main`, turning expected failures into `error: ...` on one line."""
    try:
        return main()
    except KeyboardInterrupt:
        return fail(f"interrupted. {interrupted_hint}".strip(), EXIT_INTERRUPTED)
    except EXPECTED_ERRORS as exc:
        return fail(" ".join(str(exc).split()) or type(exc).__name__)
    except SQLAlchemyError as exc:
        original = getattr(exc, "orig", None) or exc
        return fail(f"database error: {' '.join(str(original).split())[:300]}")
