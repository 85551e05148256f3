"""One-line errors and exit codes shared by the dicom CLIs."""

from __future__ import annotations

import sys
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from dicom.database_url import DatabaseUnavailable
from dicom.deidentify import DeidentificationKeyError
from dicom.ingest_workers import WorkerDied

EXIT_FATAL = 2
EXIT_INTERRUPTED = 130
EXPECTED_ERRORS = (
    DatabaseUnavailable,
    DeidentificationKeyError,
    FileExistsError,
    FileNotFoundError,
    NotADirectoryError,
    PermissionError,
    ValueError,
    WorkerDied,
)


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
