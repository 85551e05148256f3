"""Shared fixtures: catalogs on SQLite and on the real MariaDB/MySQL and PostgreSQL servers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

import console.quiet_start  # noqa: F401  (as every command starts: before TensorFlow loads)
from dicom.synthetic.synthetic_dicom import SyntheticResult, SyntheticSpec, synthesize

MYSQL_URL_VARIABLE = "MEDCV_TEST_MYSQL_URL"
DEFAULT_MYSQL_URL = "mysql+mysqlconnector://root@127.0.0.1:3306/test"
POSTGRES_URL_VARIABLE = "MEDCV_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
_CREATE = {"mysql": "CREATE DATABASE `{}` CHARACTER SET utf8mb4",
           "postgresql": "CREATE DATABASE \"{}\" ENCODING 'UTF8' TEMPLATE template0"}
_DROP = {"mysql": "DROP DATABASE IF EXISTS `{}`",
         "postgresql": "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)"}


def _reachable_server(variable: str, default: str, timeout: dict[str, int]) -> sa.URL:
    """The server's URL; under CI=true an unreachable server fails instead of skipping."""
    url = sa.make_url(os.environ.get(variable, default))
    engine = sa.create_engine(url, connect_args=timeout)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except Exception as exc:
        message = (f"{url.get_backend_name()} server {url.host}:{url.port} unreachable "
                   f"({variable}): {exc}")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def mysql_server() -> sa.URL:
    return _reachable_server(MYSQL_URL_VARIABLE, DEFAULT_MYSQL_URL, {"connection_timeout": 5})


@pytest.fixture(scope="session")
def postgres_server() -> sa.URL:
    return _reachable_server(POSTGRES_URL_VARIABLE, DEFAULT_POSTGRES_URL, {"connect_timeout": 5})


def _fresh_database(server: sa.URL) -> Iterator[str]:
    name = f"medcv_test_{uuid.uuid4().hex[:12]}"
    backend = server.get_backend_name()
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(_CREATE[backend].format(name))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(_DROP[backend].format(name))
        admin.dispose()


@pytest.fixture
def mysql_url(mysql_server: sa.URL) -> Iterator[str]:
    """A fresh database on the server for one test, dropped afterwards."""
    yield from _fresh_database(mysql_server)


@pytest.fixture
def other_mysql_url(mysql_server: sa.URL) -> Iterator[str]:
    """A second fresh database, for comparing two engines' catalogs."""
    yield from _fresh_database(mysql_server)


@pytest.fixture
def postgres_url(postgres_server: sa.URL) -> Iterator[str]:
    """A fresh database on the PostgreSQL server for one test, dropped afterwards."""
    yield from _fresh_database(postgres_server)


@pytest.fixture(params=["sqlite", "mysql", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """Run the test on each catalog backend: SQLite, and the real MariaDB and PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    return request.getfixturevalue(f"{request.param.replace('postgresql', 'postgres')}_url")


@pytest.fixture(scope="session")
def synthetic_tree(tmp_path_factory) -> tuple[str, SyntheticResult]:
    """24 tiny synthetic images plus the planted defective files (read-only use)."""
    root = str(tmp_path_factory.mktemp("synthetic"))
    return root, synthesize(root, SyntheticSpec(num_images=24, seed=7, size=32))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest modules first (tests/support/run_order.py); a stable sort keeps each
    module's tests, and the modules within a rank, in their collected order."""
    from tests.support.run_order import start_rank

    slow_modules = {item.nodeid.split("::")[0] for item in items
                    if item.get_closest_marker("slow")}
    items.sort(key=lambda item: start_rank(item.nodeid.split("::")[0],
                                           item.nodeid.split("::")[0] in slow_modules))
