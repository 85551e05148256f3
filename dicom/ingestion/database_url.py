"""Where the catalog lives, and how to reach it without leaking credentials.

Resolution: `--db_url` flag, else `MEDCV_DB_URL`, else a SQLite file
`medcv_catalog.sqlite` in the working directory (no server needed).
MySQL/MariaDB: `mysql+mysqlconnector://user@host[:port]/database`; the password
comes from `MEDCV_DB_PASSWORD` or a MySQL option file (`MEDCV_MYSQL_OPTION_FILE`,
else `~/.my.cnf` when it exists; groups [client] and [medcv]). A password in the
URL works but is discouraged; it is never printed either way.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import sqlalchemy
from sqlalchemy.engine import URL, Engine, make_url

DEFAULT_DB_URL = "sqlite:///medcv_catalog.sqlite"
URL_ENVIRONMENT_VARIABLE = "MEDCV_DB_URL"
PASSWORD_ENVIRONMENT_VARIABLE = "MEDCV_DB_PASSWORD"
OPTION_FILE_ENVIRONMENT_VARIABLE = "MEDCV_MYSQL_OPTION_FILE"


class DatabaseUnavailable(RuntimeError):
    """The catalog database cannot be reached; the message is one line, no secrets."""


def resolve_db_url(flag_value: str | None = None) -> URL:
    text = flag_value or os.environ.get(URL_ENVIRONMENT_VARIABLE) or DEFAULT_DB_URL
    try:
        url = make_url(text)
    except Exception as exc:
        raise DatabaseUnavailable(
            "invalid database URL (expected e.g. sqlite:///catalog.sqlite or "
            "mysql+mysqlconnector://user@host/db)"
        ) from exc
    if url.get_backend_name() not in ("sqlite", "mysql", "mariadb"):
        raise DatabaseUnavailable(
            f"unsupported database backend {url.get_backend_name()!r}: use sqlite or mysql"
        )
    if url.get_backend_name() in ("mysql", "mariadb"):
        if url.drivername in ("mysql", "mariadb"):
            url = url.set(drivername="mysql+mysqlconnector")
        if url.password is None and os.environ.get(PASSWORD_ENVIRONMENT_VARIABLE):
            url = url.set(password=os.environ[PASSWORD_ENVIRONMENT_VARIABLE])
    return url


def describe(url: URL) -> str:
    """'MySQL database 'test' at 127.0.0.1:3306' -- safe to print."""
    if url.get_backend_name() == "sqlite":
        return f"SQLite database {url.database or ':memory:'}"
    host = url.host or "localhost"
    port = f":{url.port}" if url.port else ""
    return f"MySQL database {url.database!r} at {host}{port}"


def create_engine(url: URL) -> Engine:
    """An engine for `url`, tuned per backend; connects lazily."""
    logging.getLogger("mysql.connector").setLevel(logging.WARNING)  # a line per plugin load
    connect_args: dict[str, Any] = {}
    options: dict[str, Any] = {}
    if url.get_backend_name() == "sqlite":
        connect_args["timeout"] = 60
        if url.database and url.database != ":memory:":
            directory = os.path.dirname(os.path.abspath(url.database))
            if not os.path.isdir(directory):
                raise DatabaseUnavailable(f"{describe(url)}: directory {directory} does not exist")
    else:
        if url.database is None:
            raise DatabaseUnavailable(
                "MySQL URL names no database: mysql+mysqlconnector://user@host/DB"
            )
        option_file = os.environ.get(OPTION_FILE_ENVIRONMENT_VARIABLE) or os.path.expanduser(
            "~/.my.cnf"
        )
        if url.password is None and os.path.isfile(option_file):
            connect_args["option_files"] = option_file
            connect_args["option_groups"] = ["client", "medcv"]
        connect_args.setdefault("connection_timeout", 10)
        url = url.update_query_dict({"charset": "utf8mb4", "collation": "utf8mb4_unicode_ci"})
        options["pool_pre_ping"] = True
        options["pool_recycle"] = 3600
    engine = sqlalchemy.create_engine(url, connect_args=connect_args, **options)
    if url.get_backend_name() == "sqlite":
        sqlalchemy.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (fetch, a progress query) run while an ingest writes;
    # synchronous=NORMAL in WAL mode is still crash-safe for committed data.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


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
