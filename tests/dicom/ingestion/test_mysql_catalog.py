"""Behaviour only a real MySQL/MariaDB server shows."""

import json
import uuid

import numpy as np
import pytest
import sqlalchemy as sa

from tests.support.cli import run_module
from tests.support.dicom_files import image_dataset, to_bytes


def test_image_over_max_allowed_packet_is_a_reject(mysql_url, mysql_server, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    noise = np.random.default_rng(0).integers(0, 65536, size=(1024, 1024), dtype=np.uint16)
    (folder / "big.dcm").write_bytes(to_bytes(image_dataset(noise)))
    (folder / "small.dcm").write_bytes(to_bytes(image_dataset(noise[:64, :64].copy())))
    admin = sa.create_engine(mysql_server)
    with admin.connect() as c:
        previous = c.exec_driver_sql("SELECT @@GLOBAL.max_allowed_packet").scalar()
        c.exec_driver_sql("SET GLOBAL max_allowed_packet = 1048576")  # new sessions see 1 MiB
    report = tmp_path / "report.json"
    try:  # as a user runs it: workers forked from a small process, under their memory cap
        result = run_module("dicom.create_database", f"--directory={folder}",
                            f"--db_url={mysql_url}", "--workers=2", "--progress=false",
                            f"--report={report}")
    finally:
        with admin.connect() as c:
            c.exec_driver_sql(f"SET GLOBAL max_allowed_packet = {int(previous)}")
        admin.dispose()
    assert result.returncode == 0, result.stderr
    outcome = json.loads(report.read_text())
    assert outcome["summary"]["ingested"] == 1
    [reject] = outcome["rejects"]
    assert reject["path"].endswith("big.dcm") and reject["kind"] == "too-large"
    assert "max_allowed_packet (1048576 bytes)" in reject["reason"]


@pytest.fixture
def password_user(mysql_url, mysql_server, tmp_path):
    """A user with a password on the test database, and a folder with one DICOM file.

    Yields (URL without the password, password, database name, folder)."""
    user, password = f"medcv_{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex}"
    database = sa.make_url(mysql_url).database
    admin = sa.create_engine(mysql_server)
    with admin.begin() as c:
        for host in ("%", "localhost"):
            c.exec_driver_sql(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{password}'")
            c.exec_driver_sql(f"GRANT ALL ON `{database}`.* TO '{user}'@'{host}'")
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.dcm").write_bytes(
        to_bytes(image_dataset(np.arange(64, dtype=np.uint8).reshape(8, 8)))
    )
    try:
        url = sa.make_url(mysql_url).set(username=user, password=None).render_as_string()
        yield url, password, database, folder
    finally:
        with admin.begin() as c:
            for host in ("%", "localhost"):
                c.exec_driver_sql(f"DROP USER IF EXISTS '{user}'@'{host}'")
        admin.dispose()


def _ingest(url: str, folder, env: dict[str, str]):
    return run_module("dicom.create_database", "--directory", str(folder), "--db_url", url,
                      "--progress=false", env=env)


def test_password_comes_from_the_environment_and_is_never_printed(password_user):
    url, password, database, folder = password_user
    ok = _ingest(url, folder, {"MEDCV_DB_PASSWORD": password})
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().startswith("ingested 1 files")
    wrong = _ingest(url, folder, {"MEDCV_DB_PASSWORD": password + "x"})
    assert wrong.returncode == 2
    assert f"cannot connect to MySQL database '{database}'" in wrong.stderr
    for result in (ok, wrong):
        assert password not in result.stdout + result.stderr


def test_password_comes_from_a_mysql_option_file(password_user, tmp_path):
    url, password, database, folder = password_user
    option_file = tmp_path / "medcv.cnf"
    env = {"MEDCV_MYSQL_OPTION_FILE": str(option_file), "MEDCV_DB_PASSWORD": ""}
    option_file.write_text(f"[client]\npassword={password}\n")
    ok = _ingest(url, folder, env)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().startswith("ingested 1 files")
    option_file.write_text(f"[client]\npassword={password}x\n")
    wrong = _ingest(url, folder, env)
    assert wrong.returncode == 2
    assert f"cannot connect to MySQL database '{database}'" in wrong.stderr
    assert password not in ok.stdout + ok.stderr + wrong.stdout + wrong.stderr
