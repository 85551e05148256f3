"""The node's queue on SQLite and on the real MariaDB: stable studies become jobs once,
a late instance opens the next generation, failures back off into dead-letter, a
restarted node takes back its own jobs, and two nodes never claim one job."""

from __future__ import annotations

import random
import threading
import time

from node.job_queue import DEAD, INFERRING, STABLE, STORED, WRITTEN, JobQueue, backoff_delay


def _queue(url: str, worker: str = "node-a") -> JobQueue:
    queue = JobQueue(url, worker)
    queue.create()
    return queue


def _study(queue: JobQueue, study: str, count: int) -> None:
    for index in range(count):
        queue.record_instance(f"{study}.{index}", study, f"/spool/{study}-{index}.dcm",
                              {"Modality": "CR"}, "STORESCU")


def test_a_stable_study_becomes_one_job_per_route_once(db_url):
    queue = _queue(db_url)
    _study(queue, "1.2.3", 3)
    assert queue.stable_studies(60) == []  # still arriving
    assert queue.stable_studies(0) == [("1.2.3", 1)]
    assert queue.open_jobs("1.2.3", 1, ["chest", "bone"], 0).routes == ["chest", "bone"]
    assert queue.open_jobs("1.2.3", 1, ["chest", "bone"], 0) is None  # a second node: nothing
    assert queue.stable_studies(0) == []
    assert [i.sop_uid for i in queue.instances_of("1.2.3")] == ["1.2.3.0", "1.2.3.1", "1.2.3.2"]
    counts = queue.counts()
    assert counts[STABLE] == 2 and counts["received"] == 0


def test_a_late_instance_opens_the_next_generation_over_every_instance(db_url):
    queue = _queue(db_url)
    _study(queue, "7.7", 2)
    queue.open_jobs("7.7", 1, ["chest"], 0)
    queue.record_instance("7.7.late", "7.7", "/spool/late.dcm", {"Modality": "CR"}, "X")
    assert queue.stable_studies(0) == [("7.7", 2)]
    assert queue.open_jobs("7.7", 2, ["chest"], 0).routes == ["chest"]
    assert len(queue.instances_of("7.7")) == 3
    assert sorted(j["generation"] for j in queue.listing()) == [1, 2]
    # the same instance again replaces its spool file, and says which to remove
    assert queue.record_instance("7.7.late", "7.7", "/spool/late-2.dcm", {}, "X") == (
        "/spool/late.dcm")


def test_an_unrouted_study_is_forgotten_but_never_an_instance_the_routes_did_not_see(
        db_url):
    queue = _queue(db_url)
    _study(queue, "3.3", 2)
    time.sleep(0.3)
    assert queue.stable_studies(0.2) == [("3.3", 1)]  # the node chooses routes: none
    queue.record_instance("3.3.late", "3.3", "/spool/late.dcm", {"Modality": "CR"}, "X")
    assert queue.open_jobs("3.3", 1, [], 0.2) is None  # not stable now: nothing forgotten
    assert len(queue.instances_of("3.3")) == 3
    time.sleep(0.3)
    assert queue.stable_studies(0.2) == [("3.3", 1)]  # looked at again, the late one too
    opened = queue.open_jobs("3.3", 1, [], 0.2)
    assert sorted(opened.forgotten) == ["/spool/3.3-0.dcm", "/spool/3.3-1.dcm",
                                        "/spool/late.dcm"]
    # an instance after that opens the next generation, and stays
    queue.record_instance("3.3.later", "3.3", "/spool/later.dcm", {"Modality": "CR"}, "X")
    assert [i.sop_uid for i in queue.instances_of("3.3")] == ["3.3.later"]


def test_a_stored_quiet_study_leaves_the_spool_but_an_unfinished_one_stays(db_url):
    queue = _queue(db_url)
    _study(queue, "4.4", 2)
    _study(queue, "5.5", 1)
    for study in ("4.4", "5.5"):
        queue.open_jobs(study, 1, ["chest"], 0)
    for job in queue.claim(STABLE, 10, 60):
        queue.written(job, f"/results/job-{job.id}")
    stored = next(j for j in queue.claim(WRITTEN, 10, 60) if j.study_uid == "4.4")
    queue.stored(stored)
    assert queue.forget_finished(60).studies == []  # not quiet for long enough
    time.sleep(0.3)
    forgotten = queue.forget_finished(0.2)  # 5.5's job is written, not stored: it stays
    assert forgotten.studies == ["4.4"] and forgotten.folders == [f"/results/job-{stored.id}"]
    assert sorted(forgotten.paths) == ["/spool/4.4-0.dcm", "/spool/4.4-1.dcm"]
    assert queue.instances_of("4.4") == [] and len(queue.instances_of("5.5")) == 1
    assert queue.forget_finished(0.2).studies == []  # nothing twice
    # a later instance of the forgotten study: its next generation, over that instance
    queue.record_instance("4.4.late", "4.4", "/spool/late.dcm", {"Modality": "CR"}, "X")
    assert queue.stable_studies(0) == [("4.4", 2)]


def test_failures_back_off_then_go_dead_and_retry_brings_them_back(db_url):
    queue = _queue(db_url)
    _study(queue, "5.5", 1)
    queue.open_jobs("5.5", 1, ["chest"], 0)
    (job,) = queue.claim(STABLE, 10, 60)
    assert job.state == INFERRING and queue.claim(STABLE, 10, 60) == []  # leased
    queue.written(job, "/results/job-1")
    (job,) = queue.claim(WRITTEN, 10, 60)
    assert queue.failed(job, "store: refused", 3, 0.2, 10) == WRITTEN
    assert queue.claim(WRITTEN, 10, 60) == []  # waiting out its backoff
    time.sleep(0.25)
    (job,) = queue.claim(WRITTEN, 10, 60)
    assert job.attempts == 1
    assert queue.failed(job, "store: refused", 2, 0.01, 10) == DEAD
    (listed,) = queue.listing()
    assert listed["state"] == DEAD and listed["last_error"] == "store: refused"
    assert queue.retry("dead") == 1
    (job,) = queue.claim(WRITTEN, 10, 60)  # written before: it goes back to storing
    assert job.attempts == 0
    queue.stored(job)
    assert queue.counts()[STORED] == 1


def test_a_restarted_node_takes_back_its_jobs_and_others_wait_for_the_lease(db_url):
    first = _queue(db_url, "node-a")
    _study(first, "9.9", 1)
    first.open_jobs("9.9", 1, ["chest"], 0)
    assert len(first.claim(STABLE, 10, 300)) == 1  # then node-a dies
    other = _queue(db_url, "node-b")
    assert other.claim(STABLE, 10, 300) == []  # leased to node-a for 300 s
    restarted = _queue(db_url, "node-a")
    assert restarted.release_own() == 1
    assert [j.study_uid for j in restarted.claim(STABLE, 10, 300)] == ["9.9"]


def test_backoff_doubles_with_jitter_up_to_its_cap():
    rng = random.Random(0)
    delays = [backoff_delay(n, 2.0, 60.0, rng) for n in range(1, 8)]
    for attempts, delay in enumerate(delays, start=1):
        ceiling = min(60.0, 2.0 * 2 ** (attempts - 1))
        assert ceiling / 2 <= delay <= ceiling


def test_two_nodes_on_mariadb_never_claim_the_same_job(mysql_url):
    setup = _queue(mysql_url)
    for number in range(60):
        _study(setup, f"4.{number}", 1)
        setup.open_jobs(f"4.{number}", 1, ["chest"], 0)
    claimed: dict[str, list[str]] = {"node-a": [], "node-b": []}
    together = threading.Barrier(2)

    def work(name: str) -> None:
        queue = _queue(mysql_url, name)
        together.wait()  # both start claiming at once
        while jobs := queue.claim(STABLE, 2, 300):
            claimed[name] += [j.study_uid for j in jobs]
            time.sleep(0.05)  # the work, while the other node claims the next jobs
            for job in jobs:
                queue.written(job, "/r")

    threads = [threading.Thread(target=work, args=(n,)) for n in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = claimed["node-a"] + claimed["node-b"]
    assert sorted(everything) == sorted(f"4.{n}" for n in range(60))  # each exactly once
    assert claimed["node-a"] and claimed["node-b"]  # and both did some

