import json
import os
import signal
import time

import numpy as np
import pytest
import sqlalchemy as sa

from dicom.ingestion import ingest_workers
from dicom.ingestion.catalog import Catalog
from dicom.ingestion.database_url import resolve_db_url
from dicom.ingestion.file_processing import NEW, FileOutcome, FileProcessor, IngestSettings
from dicom.ingestion.ingest import ingest_directory
from dicom.ingestion.ingest_workers import (
    WorkerDied,
    WorkerLimits,
    decoded_groups,
    inherited_data_bytes,
    run_in_workers,
)
from dicom.metadata.cleansing import AttributeLists
from dicom.synthetic.synthetic_dicom import SyntheticSpec, synthesize
from tests.support.cli import popen_module, run_module
from tests.support.dicom_files import gradient, image_dataset, to_bytes
from tests.support.ingest_runs import children, wait_for_rows


def test_groups_hold_whole_files_under_the_byte_cap(tmp_path):
    paths = []
    for index in range(3):
        path = tmp_path / f"{index}.dcm"
        path.write_bytes(to_bytes(image_dataset(gradient(bits=12), bits_stored=12)))
        paths.append(str(path))
    processor = FileProcessor(IngestSettings(), {})
    one_image = processor(paths[0]).nbytes
    groups = list(decoded_groups(paths, processor, max_bytes=2 * one_image))
    assert [[o.path for o in g] for g in groups] == [paths[:2], paths[2:]]
    assert [len(g) for g in decoded_groups(paths, processor)] == [3]


def test_the_memory_cap_counts_from_what_a_worker_inherits(tmp_path):
    """Workers forked from a large process (TensorFlow in a notebook, a test runner) start
    with its data size; a cap on the total killed them before they read a file."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.dcm").write_bytes(to_bytes(image_dataset(gradient(bits=12), bits_stored=12)))
    reserved = np.empty(3 << 30, np.uint8)  # 3 GiB of address space, never touched
    assert inherited_data_bytes() > 3 << 30
    catalog = Catalog.open(resolve_db_url(f"sqlite:///{tmp_path / 'c.sqlite'}"))
    summary = ingest_directory(str(folder), catalog, workers=1, progress=False,
                               worker_limits=WorkerLimits(memory_mb=1024))
    del reserved
    assert (summary.ingested, summary.rejects) == (1, [])
    assert catalog.count() == 1
    catalog.dispose()


def test_a_database_error_in_a_worker_reaches_the_parent(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.dcm", "b.dcm"):
        (folder / name).write_bytes(to_bytes(image_dataset(gradient(bits=12), bits_stored=12)))
    url = resolve_db_url(f"sqlite:///{tmp_path / 'no_tables.sqlite'}")  # schema never made
    tasks = [[str(folder / "a.dcm")], [str(folder / "b.dcm")]]
    # One worker: two would race to the empty file and one may see "database is locked".
    results = run_in_workers(tasks, IngestSettings(), {}, url, AttributeLists(), 1)
    with pytest.raises(sa.exc.OperationalError, match="no such table: images"):
        list(results)


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")  # a row short of columns
def test_a_failed_commit_is_sent_before_the_worker_may_stop(tmp_path):
    """The committer's error was set before it was sent: the decoding thread, seeing it,
    ended the worker (status 0) before the message went, and the parent waited forever."""
    url = resolve_db_url(f"sqlite:///{tmp_path / 'no_tables.sqlite'}")
    catalog = Catalog.attach(url, AttributeLists())
    sent: list[tuple] = []

    def slow_send(message: tuple) -> None:
        time.sleep(0.3)  # a pipe to a busy parent
        sent.append(message)

    committer = ingest_workers._BackgroundCommitter(catalog, slow_send)
    committer.submit(0, [FileOutcome("a.dcm", NEW, sop_uid="1.2.3", sha256="0" * 64,
                                     rows=[{"sop_instance_uid": "1.2.3"}], row_count=1)])
    deadline = time.monotonic() + 30
    while committer.error is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert committer.error is not None
    assert [message[0] for message in sent] == ["error"]  # already on its way
    catalog.dispose()


def _silent_exit(*args) -> None:
    """A worker that ends (status 0) without a word, as a lost message left it."""


def test_a_worker_gone_without_a_word_is_a_lost_worker_not_a_hang(tmp_path, monkeypatch):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.dcm").write_bytes(to_bytes(image_dataset(gradient(bits=12), bits_stored=12)))
    url = resolve_db_url(f"sqlite:///{tmp_path / 'c.sqlite'}")
    monkeypatch.setattr(ingest_workers, "_worker_main", _silent_exit)  # forked: inherited
    previous = signal.signal(signal.SIGALRM,
                             lambda *_: pytest.fail("the pool waited for a lost worker"))
    signal.alarm(60)
    try:
        with pytest.raises(WorkerDied, match="exited with status 0"):
            list(run_in_workers([[str(folder / "a.dcm")]], IngestSettings(), {}, url,
                                AttributeLists(), 1))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _count(engine, table: str) -> int:
    try:
        with engine.connect() as connection:
            return connection.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar()
    except sa.exc.OperationalError:  # the table is not there yet
        return 0


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="finds worker processes in /proc")
def test_killed_workers_cost_their_file_and_the_run_completes(tmp_path):
    source = tmp_path / "dicom"
    synthesize(str(source), SyntheticSpec(num_images=300, seed=5, size=96, defects=False))
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    args = ("--directory", str(source), "--db_url", url, "--workers", "2", "--progress=false")
    report = tmp_path / "report.json"
    process = popen_module("dicom.create_database", *args, "--batch_size", "4",
                           f"--report={report}")
    engine = sa.create_engine(url)
    kills = 0
    try:
        wait_for_rows(engine, "images", 20, process)
        # A worker killed between files (waiting for its commit or its next task) costs no
        # file; kill again (at most 20 times) until one was caught on a file.
        for attempt in range(20):
            workers = children(process.pid)
            if attempt and not workers:
                break  # the run is done
            assert len(workers) >= 2, "the run finished before its workers could be killed"
            for pid in workers:
                os.kill(pid, signal.SIGKILL)  # as the kernel's out-of-memory killer would
            kills += len(workers)
            time.sleep(0.3)
            if _count(engine, "rejects"):
                break
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    rejects = json.loads(report.read_text())["rejects"]
    assert 1 <= len(rejects) <= kills  # the file a killed worker was on
    for reject in rejects:
        assert reject["kind"] == "worker-died"
        assert reject["reason"].startswith("its worker died from SIGKILL")
    with engine.connect() as c:
        assert c.exec_driver_sql("SELECT COUNT(*) FROM images").scalar() == 300 - len(rejects)
    result = run_module("dicom.create_database", *args)  # the re-run retries the rejects
    assert result.returncode == 0, result.stderr
    with engine.connect() as c:
        total, distinct = c.exec_driver_sql(
            "SELECT COUNT(*), COUNT(DISTINCT source_path) FROM images"
        ).one()
        left = c.exec_driver_sql("SELECT COUNT(*) FROM rejects").scalar()
    engine.dispose()
    assert (total, distinct, left) == (300, 300, 0)


def test_interrupted_run_with_many_queued_tasks_exits_at_once(tmp_path):
    folder = tmp_path / ("long-folder-name-" * 8)
    folder.mkdir()
    for index in range(8000):  # not DICOM: quick rejects, and over 64 KiB of queued tasks
        (folder / f"note_{index:05d}.txt").write_text("not an image")
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    args = ("--directory", str(folder), "--db_url", url, "--workers", "2", "--progress=false")
    process = popen_module("dicom.create_database", *args, "--batch_size", "1")
    engine = sa.create_engine(url)
    try:
        seen = wait_for_rows(engine, "rejects", 1, process)
        process.send_signal(signal.SIGINT)  # Ctrl-C
        _, stderr = process.communicate(timeout=30)  # a parent stuck on its queue times out
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, (
        f"the run ended with {process.returncode} after {seen} rejects were seen; SIGINT in "
        f"this process: {signal.getsignal(signal.SIGINT)}; {stderr[-1500:]}")
    assert stderr.strip().splitlines()[-1] == (
        "error: interrupted. Committed batches are kept; re-run the same command to finish."
    )
    result = run_module("dicom.create_database", *args)
    assert result.returncode == 0, result.stderr
    with engine.connect() as c:
        assert c.exec_driver_sql("SELECT COUNT(*) FROM rejects").scalar() == 8000
    engine.dispose()
