"""The catalog backends: what differs between SQLite, MySQL/MariaDB and PostgreSQL.

The catalog's schema and queries are SQLAlchemy Core and run unchanged on every
backend; what cannot be written once lives here, one `CatalogDialect` per backend,
chosen by the URL's scheme from `DIALECTS`. A new backend is one class and one entry.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

PASSWORD_ENVIRONMENT_VARIABLE = "MEDCV_DB_PASSWORD"
OPTION_FILE_ENVIRONMENT_VARIABLE = "MEDCV_MYSQL_OPTION_FILE"


class DatabaseUnavailable(RuntimeError):
    """The catalog database cannot be reached; the message is one line, no secrets."""


class CatalogDialect(Protocol):
    """One database backend of the catalog."""

    #: Its name in messages ("PostgreSQL").
    label: str
    #: Whether several processes may write one catalog at once (Beam workers).
    concurrent_writers: bool

    def normalize(self, url: URL) -> URL:
        """`url` with this project's driver and the password from the environment."""
        ...

    def describe(self, url: URL) -> str:
        """Where the catalog is, safe to print: never the password."""
        ...

    def create_engine(self, url: URL) -> Engine:
        """An engine tuned for this backend; connects lazily."""
        ...

    def queue_engine(self, url: URL) -> Engine:
        """An engine for a work queue (the inference node's), several threads or
        processes writing, where every commit must survive a crash."""
        ...

    def insert_rows(self, connection: sa.Connection, table: sa.Table,
                    rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert image rows (PNG bytes among them) as fast as this backend's driver allows."""
        ...

    def max_packet_bytes(self, engine: Engine) -> int | None:
        """The largest statement the server accepts, None where there is no such limit."""
        ...

    def is_transient(self, error: sa.exc.DBAPIError) -> bool:
        """Whether the server rolled the transaction back and asks for a retry
        (a deadlock, a lock wait timeout, a serialization failure)."""
        ...


def _server_description(label: str, url: URL) -> str:
    host = url.host or "localhost"
    port = f":{url.port}" if url.port else ""
    return f"{label} database {url.database!r} at {host}{port}"


def _require_database(label: str, url: URL, example: str) -> None:
    if url.database is None:
        raise DatabaseUnavailable(f"{label} URL names no database: {example}")


def _password_from_environment(url: URL) -> URL:
    if url.password is None and os.environ.get(PASSWORD_ENVIRONMENT_VARIABLE):
        return url.set(password=os.environ[PASSWORD_ENVIRONMENT_VARIABLE])
    return url


class SqliteDialect:
    """A file beside the data; one writer at a time, no server."""

    label = "SQLite"
    concurrent_writers = False

    def normalize(self, url: URL) -> URL:
        """The URL as given: SQLite needs no driver named."""
        return url

    def describe(self, url: URL) -> str:
        """The database file as errors name it."""
        return f"SQLite database {url.database or ':memory:'}"

    def create_engine(self, url: URL) -> Engine:
        """An engine on the database file, which waits up to 60 s for another writer; raises
        DatabaseUnavailable when the file's folder does not exist."""
        if url.database and url.database != ":memory:":
            directory = os.path.dirname(os.path.abspath(url.database))
            if not os.path.isdir(directory):
                raise DatabaseUnavailable(f"{self.describe(url)}: directory {directory} "
                                          "does not exist")
        engine = sa.create_engine(url, connect_args={"timeout": 60})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine

    def queue_engine(self, url: URL) -> Engine:
        """An engine whose commits survive power loss (WAL, synchronous=FULL), as the node's queue
        needs."""
        engine = sa.create_engine(url, pool_pre_ping=True)
        sa.event.listen(engine, "connect", _queue_pragmas)
        return engine

    def insert_rows(self, connection: sa.Connection, table: sa.Table,
                    rows: Sequence[Mapping[str, Any]]) -> None:
        """Inserts the rows in one executemany."""
        connection.execute(sa.insert(table), list(rows))

    def max_packet_bytes(self, engine: Engine) -> int | None:
        """None: SQLite has no statement size limit below the decoder's."""
        return None

    def is_transient(self, error: sa.exc.DBAPIError) -> bool:
        """False: SQLite's busy timeout already waits for the other writer."""
        return False  # the 60 s busy timeout waits for the other writer instead


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (fetch, a progress query) run while an ingest writes;
    # synchronous=NORMAL in WAL mode is still crash-safe for committed data.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _queue_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Several threads, one writer at a time: wait for the lock rather than fail, and
    # make each commit durable before an instance is acknowledged.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


class MysqlDialect:
    """MySQL or MariaDB through mysql-connector; the password from the environment or
    an option file (`MEDCV_MYSQL_OPTION_FILE`, else `~/.my.cnf`; groups [client], [medcv])."""

    label = "MySQL"
    concurrent_writers = True
    _TRANSIENT = frozenset({1205, 1213})  # lock wait timeout, deadlock: InnoDB retries

    def normalize(self, url: URL) -> URL:
        """The URL with MySQL Connector named as driver and the password from the environment when
        the URL has none."""
        if url.drivername in ("mysql", "mariadb"):
            url = url.set(drivername="mysql+mysqlconnector")
        return _password_from_environment(url)

    def describe(self, url: URL) -> str:
        """The server and database as errors name them, without a password."""
        return _server_description(self.label, url)

    def create_engine(self, url: URL) -> Engine:
        """An engine on the server that connects within 10 s, reading a MySQL option file for the
        password when the URL has none; raises DatabaseUnavailable when the URL names no
        database."""
        _require_database(self.label, url, "mysql+mysqlconnector://user@host/DB")
        logging.getLogger("mysql.connector").setLevel(logging.WARNING)  # a line per plugin
        connect_args: dict[str, Any] = {"connection_timeout": 10}
        option_file = os.environ.get(OPTION_FILE_ENVIRONMENT_VARIABLE) or os.path.expanduser(
            "~/.my.cnf")
        if url.password is None and os.path.isfile(option_file):
            connect_args["option_files"] = option_file
            connect_args["option_groups"] = ["client", "medcv"]
        url = url.update_query_dict({"charset": "utf8mb4", "collation": "utf8mb4_unicode_ci"})
        return sa.create_engine(url, connect_args=connect_args, pool_pre_ping=True,
                                pool_recycle=3600)

    def queue_engine(self, url: URL) -> Engine:
        """The ordinary engine: InnoDB commits are durable."""
        return self.create_engine(url)  # InnoDB commits are durable

    def insert_rows(self, connection: sa.Connection, table: sa.Table,
                    rows: Sequence[Mapping[str, Any]]) -> None:
        """Through a prepared statement: mysql-connector's text protocol escapes every BLOB
        byte in pure Python and the server re-parses it; the binary protocol sends the PNG
        bytes as they are."""
        names = list(rows[0])
        quote = connection.dialect.identifier_preparer.quote
        sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
               f"VALUES ({', '.join(['%s'] * len(names))})")
        # Unbuffered: an INSERT returns no rows, and buffered prepared cursors do not exist.
        driver_connection: Any = connection.connection.driver_connection
        cursor = driver_connection.cursor(prepared=True, buffered=False)
        error = connection.dialect.loaded_dbapi.Error
        try:
            cursor.executemany(sql, [tuple(r[n] for n in names) for r in rows])
        except error as exc:
            # The raw cursor bypasses SQLAlchemy: raise what its own execute would.
            raise sa.exc.DBAPIError.instance(sql, None, exc, error) from exc
        finally:
            cursor.close()

    def max_packet_bytes(self, engine: Engine) -> int | None:
        """The server's max_allowed_packet, which bounds a batch of image rows."""
        with engine.connect() as connection:
            return int(connection.exec_driver_sql("SELECT @@max_allowed_packet").scalar_one())

    def is_transient(self, error: sa.exc.DBAPIError) -> bool:
        """Whether the error is a deadlock or lock wait timeout, which a retry settles."""
        return getattr(error.orig, "errno", None) in self._TRANSIENT


class PostgresDialect:
    """PostgreSQL through psycopg 3; the password from the environment or libpq's own
    ~/.pgpass and PG* variables."""

    label = "PostgreSQL"
    concurrent_writers = True
    _TRANSIENT = frozenset({"40001", "40P01", "55P03"})  # serialization, deadlock, lock

    def normalize(self, url: URL) -> URL:
        """The URL with psycopg 3 named as driver and the password from the environment when the
        URL has none."""
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        return _password_from_environment(url)

    def describe(self, url: URL) -> str:
        """The server and database as errors name them, without a password."""
        return _server_description(self.label, url)

    def create_engine(self, url: URL) -> Engine:
        """An engine on the server that connects within 10 s and recycles idle connections; raises
        DatabaseUnavailable when the URL names no database."""
        _require_database(self.label, url, "postgresql://user@host/DB")
        return sa.create_engine(url, connect_args={"connect_timeout": 10},
                                pool_pre_ping=True, pool_recycle=3600)

    def queue_engine(self, url: URL) -> Engine:
        """The ordinary engine: PostgreSQL commits are durable."""
        return self.create_engine(url)  # PostgreSQL commits are durable

    def insert_rows(self, connection: sa.Connection, table: sa.Table,
                    rows: Sequence[Mapping[str, Any]]) -> None:
        # psycopg sends bytea parameters in binary already; executemany pipelines them.
        """Inserts the rows in one executemany, which psycopg pipelines."""
        connection.execute(sa.insert(table), list(rows))

    def max_packet_bytes(self, engine: Engine) -> int | None:
        """None: a bytea value may hold 1 GB, far above the decoder's limits."""
        return None  # a bytea value may hold 1 GB; the decoder's limits come first

    def is_transient(self, error: sa.exc.DBAPIError) -> bool:
        """Whether the error is a serialization failure, deadlock or lock not available, which a
        retry settles."""
        return getattr(error.orig, "sqlstate", None) in self._TRANSIENT


#: URL backend name -> its dialect. `mariadb://` is MySQL's.
DIALECTS: dict[str, CatalogDialect] = {
    "sqlite": SqliteDialect(),
    "mysql": MysqlDialect(),
    "mariadb": MysqlDialect(),
    "postgresql": PostgresDialect(),
}


def dialect_for(url: URL) -> CatalogDialect:
    """The dialect of `url`'s backend, or a one-line DatabaseUnavailable naming those known."""
    try:
        return DIALECTS[url.get_backend_name()]
    except KeyError:
        raise DatabaseUnavailable(
            f"unsupported database backend {url.get_backend_name()!r}: use "
            f"{', '.join(sorted(DIALECTS))}") from None
