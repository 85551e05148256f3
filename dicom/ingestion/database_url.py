"""Where the catalog lives, and how to reach it without leaking credentials.

Resolution: `--db_url` flag, else `MEDCV_DB_URL`, else a SQLite file
`medcv_catalog.sqlite` in the working directory (no server needed).
- MySQL/MariaDB: `mysql://user@host[:port]/database`; the password comes from
  `MEDCV_DB_PASSWORD` or a MySQL option file (`MEDCV_MYSQL_OPTION_FILE`, else
  `~/.my.cnf` when it exists; groups [client] and [medcv]).
- PostgreSQL: `postgresql://user@host[:port]/database`; the password comes from
  `MEDCV_DB_PASSWORD` or libpq's own `~/.pgpass` and `PG*` variables.

A password in the URL works but is discouraged; it is never printed either way.
What differs between the backends is in dicom.ingestion.catalog_dialects.
"""

from __future__ import annotations

import os

import sqlalchemy
from sqlalchemy.engine import URL, Engine, make_url

from dicom.ingestion.catalog_dialects import (
    PASSWORD_ENVIRONMENT_VARIABLE,
    DatabaseUnavailable,
    dialect_for,
)

__all__ = ["DEFAULT_DB_URL", "PASSWORD_ENVIRONMENT_VARIABLE", "URL_ENVIRONMENT_VARIABLE",
           "DatabaseUnavailable", "connect_check", "create_engine", "describe",
           "describe_database_error", "resolve_db_url"]

DEFAULT_DB_URL = "sqlite:///medcv_catalog.sqlite"
URL_ENVIRONMENT_VARIABLE = "MEDCV_DB_URL"


def resolve_db_url(flag_value: str | None = None) -> URL:
    """The catalog's URL from the flag, the environment or the default, with its
    backend's driver and password filled in; a one-line error when it is not usable."""
    text = flag_value or os.environ.get(URL_ENVIRONMENT_VARIABLE) or DEFAULT_DB_URL
    try:
        url = make_url(text)
    except Exception as exc:
        raise DatabaseUnavailable(
            "invalid database URL (expected e.g. sqlite:///catalog.sqlite, "
            "mysql://user@host/db or postgresql://user@host/db)"
        ) from exc
    return dialect_for(url).normalize(url)


def describe(url: URL) -> str:
    """'MySQL database 'test' at 127.0.0.1:3306' -- safe to print."""
    return dialect_for(url).describe(url)


def create_engine(url: URL) -> Engine:
    """An engine for `url`, tuned per backend; connects lazily."""
    return dialect_for(url).create_engine(url)


def connect_check(engine: Engine, url: URL) -> None:
    """Open one connection or raise DatabaseUnavailable naming host and database."""
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except Exception as exc:
        reason = _short_reason(exc, url)
        raise DatabaseUnavailable(f"cannot connect to {describe(url)}: {reason}") from exc


def _short_reason(exc: BaseException, url: URL) -> str:
    original = getattr(exc, "orig", None) or exc
    text = " ".join(str(original).split())
    if url.password:
        text = text.replace(url.password, "***")
    return text[:200]


def describe_database_error(exc: Exception) -> str | None:
    """The one line a command prints for a database failure (`console.errors.run_cli`)."""
    if isinstance(exc, DatabaseUnavailable):
        return " ".join(str(exc).split())
    if isinstance(exc, sqlalchemy.exc.SQLAlchemyError):
        original = getattr(exc, "orig", None) or exc
        return f"database error: {' '.join(str(original).split())[:300]}"
    return None
