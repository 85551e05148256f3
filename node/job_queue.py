"""The node's durable queue, in the database the catalog uses (SQLite by default;
MySQL/MariaDB or PostgreSQL for several nodes sharing it).

- An instance is a row once its bytes are durable in the spool, before it is
  acknowledged; its study's clock restarts.
- A study quiet for `stable_seconds` becomes one job per route it matches, in state
  `stable`. An instance arriving after that opens the study's next generation, whose
  jobs cover all its instances and supersede the earlier results.
- A job moves stable -> inferring -> written -> stored. A failure counts an attempt
  and waits (exponential backoff with jitter) before the next; after `max_attempts`
  it is `dead`, which blocks nothing else.
- A node claims jobs with a lease; on MySQL/MariaDB and PostgreSQL the claim skips rows another node
  has locked (SKIP LOCKED), so no job runs twice at once. A job whose node died is
  taken over when its lease runs out, or at once by the same node restarted.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from dicom.ingestion.catalog_dialects import dialect_for
from dicom.ingestion.database_url import resolve_db_url

STABLE, INFERRING, WRITTEN, STORED, DEAD = "stable", "inferring", "written", "stored", "dead"
STATES = (STABLE, INFERRING, WRITTEN, STORED, DEAD)
RECEIVED = "received"  # a study not yet stable (no job yet): what --status calls it
_UID = 64


def _tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    instances = sa.Table(
        "node_instances", metadata,
        sa.Column("sop_uid", sa.String(_UID), primary_key=True),
        sa.Column("study_uid", sa.String(_UID), nullable=False, index=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("attributes", sa.Text, nullable=False),
        sa.Column("caller", sa.String(64)),
        sa.Column("received_at", sa.Double, nullable=False))
    studies = sa.Table(
        "node_studies", metadata,
        sa.Column("study_uid", sa.String(_UID), primary_key=True),
        sa.Column("last_received_at", sa.Double, nullable=False, index=True),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("jobbed_generation", sa.Integer, nullable=False))
    jobs = sa.Table(
        "node_jobs", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("study_uid", sa.String(_UID), nullable=False),
        sa.Column("route", sa.String(64), nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.Double, nullable=False),
        sa.Column("lease_until", sa.Double),
        sa.Column("worker", sa.String(64)),
        sa.Column("last_error", sa.Text),
        sa.Column("results", sa.Text),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.UniqueConstraint("study_uid", "route", "generation", name="ux_node_jobs_once"),
        # a claim reads one state's jobs in id order and stops at its limit: it locks only
        # the rows it takes, so another node's claim skips those and takes the next
        sa.Index("ix_node_jobs_state_id", "state", "id"))
    audit = sa.Table(
        "node_audit", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("node", sa.String(64)),
        sa.Column("study_uid", sa.String(_UID)),
        sa.Column("route", sa.String(64)),
        sa.Column("detail", sa.Text))
    return {"instances": instances, "studies": studies, "jobs": jobs, "audit": audit}


@dataclass(frozen=True)
class Forgotten:
    """What `forget_finished` let go of."""

    studies: list[str]
    paths: list[str]
    """Spool files of their instances."""
    folders: list[str]
    """Result folders of their stored jobs."""


@dataclass(frozen=True)
class Job:
    id: int
    study_uid: str
    route: str
    generation: int
    state: str
    attempts: int
    results: str | None


@dataclass(frozen=True)
class Opened:
    routes: list[str]
    """The routes a job was opened for."""
    forgotten: list[str]
    """No route matched: the spool paths of the instances dropped (the caller removes
    the files)."""


@dataclass(frozen=True)
class Instance:
    sop_uid: str
    path: str
    attributes: dict[str, str]


def backoff_delay(attempts: int, first: float, cap: float, rng: random.Random) -> float:
    """Seconds before attempt `attempts + 1`: `first` doubled per attempt, capped, with
    full jitter over its upper half (so nodes retrying one PACS spread out)."""
    ceiling = min(cap, first * (2 ** max(0, attempts - 1)))
    return ceiling / 2 + rng.random() * ceiling / 2


class JobQueue:
    def __init__(self, url: str, worker: str) -> None:
        resolved = resolve_db_url(url)
        self.dialect = dialect_for(resolved)
        self.engine = self.dialect.queue_engine(resolved)
        self.metadata = sa.MetaData()
        self.t = _tables(self.metadata)
        self.worker = worker
        self._rng = random.Random()

    def create(self) -> None:
        """Create the queue's tables where they are missing."""
        self.metadata.create_all(self.engine, checkfirst=True)

    @property
    def locks_rows(self) -> bool:
        """Whether claims can skip rows another node has locked (MySQL, PostgreSQL)."""
        return self.dialect.concurrent_writers

    # -- in ---------------------------------------------------------------------------
    def record_instance(self, sop_uid: str, study_uid: str, path: str,
                        attributes: dict[str, str], caller: str) -> str | None:
        """Keep a durable instance; returns the spool path of an earlier copy it replaces
        (the caller removes that file). Its study's clock restarts; a new instance of a
        study whose jobs exist opens its next generation (an instance sent again does
        not: a PACS that forwards a study again gets no second set of results)."""
        now = time.time()
        instances, studies = self.t["instances"], self.t["studies"]
        with self.engine.begin() as c:
            earlier = c.execute(sa.select(instances.c.path).where(
                instances.c.sop_uid == sop_uid)).scalar_one_or_none()
            values = {"study_uid": study_uid, "path": path, "caller": caller[:64],
                      "attributes": json.dumps(attributes, sort_keys=True), "received_at": now}
            if earlier is None:
                c.execute(sa.insert(instances).values(sop_uid=sop_uid, **values))
            else:
                c.execute(sa.update(instances).where(instances.c.sop_uid == sop_uid)
                          .values(**values))
            query = sa.select(studies).where(studies.c.study_uid == study_uid)
            if self.locks_rows:  # one writer of a study's generation at a time
                query = query.with_for_update()
            study = c.execute(query).mappings().first()
            if study is None:
                c.execute(sa.insert(studies).values(study_uid=study_uid, last_received_at=now,
                                                    generation=1, jobbed_generation=0))
            else:  # a new instance after the jobs: the next generation; a resend: none
                reopens = earlier is None and study["jobbed_generation"] >= study["generation"]
                generation = study["generation"] + (1 if reopens else 0)
                c.execute(sa.update(studies).where(studies.c.study_uid == study_uid)
                          .values(last_received_at=now, generation=generation))
        return None if earlier in (None, path) else earlier

    # -- stable studies -> jobs ---------------------------------------------------------
    def stable_studies(self, stable_seconds: float) -> list[tuple[str, int]]:
        """(study, generation) of every study quiet for `stable_seconds` with no jobs yet
        for its latest generation."""
        studies = self.t["studies"]
        cutoff = time.time() - stable_seconds
        with self.engine.connect() as c:
            rows = c.execute(sa.select(studies.c.study_uid, studies.c.generation).where(
                studies.c.last_received_at <= cutoff,
                studies.c.jobbed_generation < studies.c.generation)).all()
        return [(r[0], r[1]) for r in rows]

    def instances_of(self, study_uid: str) -> list[Instance]:
        """The durable instances of `study_uid`, with their spool paths and attributes."""
        instances = self.t["instances"]
        with self.engine.connect() as c:
            rows = c.execute(sa.select(instances.c.sop_uid, instances.c.path,
                                       instances.c.attributes)
                             .where(instances.c.study_uid == study_uid)
                             .order_by(instances.c.received_at, instances.c.sop_uid)).all()
        return [Instance(r[0], r[1], json.loads(r[2])) for r in rows]

    def open_jobs(self, study_uid: str, generation: int, routes: Iterable[str],
                  stable_seconds: float) -> Opened | None:
        """One `stable` job per route for this generation of the study (none twice, even
        when two nodes see it stable at once); with no route, the study's instances are
        forgotten in the same transaction. None when another node took the generation
        first, or an instance arrived since the routes were chosen (the study is not
        stable any more: it is looked at again, that instance included, once it is)."""
        jobs, studies, instances = self.t["jobs"], self.t["studies"], self.t["instances"]
        now = time.time()
        routes = list(routes)
        with self.engine.begin() as c:
            claimed = c.execute(sa.update(studies).where(
                studies.c.study_uid == study_uid, studies.c.generation == generation,
                studies.c.jobbed_generation < generation,
                studies.c.last_received_at <= now - stable_seconds,
            ).values(jobbed_generation=generation))
            if claimed.rowcount != 1:
                return None
            for route in routes:
                c.execute(sa.insert(jobs).values(
                    study_uid=study_uid, route=route, generation=generation, state=STABLE,
                    attempts=0, next_attempt_at=now, updated_at=now))
            forgotten: list[str] = []
            if not routes:
                forgotten = [r[0] for r in c.execute(sa.select(instances.c.path).where(
                    instances.c.study_uid == study_uid))]
                c.execute(sa.delete(instances).where(instances.c.study_uid == study_uid))
        return Opened(routes, forgotten)

    # -- claiming -----------------------------------------------------------------------
    def release_own(self) -> int:
        """At start: jobs this node held when it died are free again at once."""
        jobs = self.t["jobs"]
        with self.engine.begin() as c:
            freed = c.execute(sa.update(jobs).where(jobs.c.worker == self.worker,
                                                    jobs.c.state == INFERRING)
                              .values(state=STABLE, lease_until=None)).rowcount
            freed += c.execute(sa.update(jobs).where(jobs.c.worker == self.worker,
                                                     jobs.c.state == WRITTEN)
                               .values(lease_until=None)).rowcount
        return freed

    def claim(self, state: str, limit: int, lease_seconds: float) -> list[Job]:
        """Up to `limit` jobs due in `state` (stable: to infer; written: to store), leased
        to this node; a job left in inference by a node whose lease ran out counts as
        stable."""
        jobs = self.t["jobs"]
        now = time.time()
        wanted = [(state, sa.and_(jobs.c.next_attempt_at <= now, sa.or_(
            jobs.c.lease_until.is_(None), jobs.c.lease_until < now)))]
        if state == STABLE:
            wanted.insert(0, (INFERRING, jobs.c.lease_until < now))
        taken: list[Job] = []
        for held, condition in wanted:
            query = (sa.select(jobs).where(jobs.c.state == held, condition)
                     .order_by(jobs.c.id).limit(limit - len(taken)))
            if self.locks_rows:
                query = query.with_for_update(skip_locked=True)
            connection = self.engine.connect()
            if self.locks_rows:  # row locks on what is taken only, not what was read
                connection = connection.execution_options(isolation_level="READ COMMITTED")
            with connection as c, c.begin():
                rows = c.execute(query).mappings().all()
                if not rows:
                    continue
                c.execute(sa.update(jobs).where(jobs.c.id.in_([r["id"] for r in rows])).values(
                    state=INFERRING if state == STABLE else WRITTEN,
                    lease_until=now + lease_seconds, worker=self.worker, updated_at=now))
            taken += [Job(r["id"], r["study_uid"], r["route"], r["generation"],
                          INFERRING if state == STABLE else WRITTEN, r["attempts"],
                          r["results"]) for r in rows]
            if len(taken) >= limit:
                break
        return taken

    # -- outcomes -----------------------------------------------------------------------
    def _set(self, job_id: int, **values) -> None:
        jobs = self.t["jobs"]
        with self.engine.begin() as c:
            c.execute(sa.update(jobs).where(jobs.c.id == job_id).values(
                updated_at=time.time(), **values))

    def written(self, job: Job, results: str) -> None:
        """Job `job`'s results are in `results`; next, storing them."""
        self._set(job.id, state=WRITTEN, results=results, lease_until=None,
                  next_attempt_at=time.time(), last_error=None)

    def stored(self, job: Job) -> None:
        """Job `job`'s results were acknowledged by its destination: done."""
        self._set(job.id, state=STORED, lease_until=None, last_error=None)

    def forget_finished(self, keep_seconds: float, limit: int = 500) -> Forgotten:
        """The studies done and quiet: every job of their latest generation stored, no
        instance for `keep_seconds`. Their instance rows older than that go, with the
        spool paths and job folders returned for the caller to remove. A study's own row
        stays, so an instance that comes later opens its next generation, over the
        instances it brings; one arriving meanwhile is newer than the cut and is kept."""
        jobs, studies, instances = self.t["jobs"], self.t["studies"], self.t["instances"]
        cutoff = time.time() - keep_seconds
        unfinished = sa.select(jobs.c.id).where(jobs.c.study_uid == studies.c.study_uid,
                                                jobs.c.state != STORED)
        held = sa.select(instances.c.sop_uid).where(
            instances.c.study_uid == studies.c.study_uid, instances.c.received_at <= cutoff)
        query = sa.select(studies.c.study_uid).where(
            studies.c.last_received_at <= cutoff,
            studies.c.jobbed_generation == studies.c.generation,
            ~sa.exists(unfinished), sa.exists(held)).limit(limit)
        with self.engine.begin() as c:
            done = [r[0] for r in c.execute(query)]
            if not done:
                return Forgotten([], [], [])
            old = sa.and_(instances.c.study_uid.in_(done), instances.c.received_at <= cutoff)
            paths = [r[0] for r in c.execute(sa.select(instances.c.path).where(old))]
            c.execute(sa.delete(instances).where(old))
            folders = [r[0] for r in c.execute(sa.select(jobs.c.results).where(
                jobs.c.study_uid.in_(done), jobs.c.state == STORED)) if r[0]]
            c.execute(sa.update(jobs).where(jobs.c.study_uid.in_(done),
                                            jobs.c.state == STORED).values(results=None))
        return Forgotten(done, paths, folders)

    def failed(self, job: Job, error: str, max_attempts: int, first: float,
               cap: float) -> str:
        """Count an attempt; the job waits for the next or, after `max_attempts`, is
        dead. Returns its new state."""
        attempts = job.attempts + 1
        back = STABLE if job.state == INFERRING else WRITTEN
        state = DEAD if attempts >= max_attempts else back
        self._set(job.id, state=state, attempts=attempts, lease_until=None,
                  last_error=error[:2000],
                  next_attempt_at=time.time() + backoff_delay(attempts, first, cap, self._rng))
        return state

    # -- operator's commands ------------------------------------------------------------
    def retry(self, which: str) -> int:
        """`dead`: every dead job; else the job with that id. Due now, attempts reset."""
        jobs = self.t["jobs"]
        now = time.time()
        where = jobs.c.state == DEAD if which == "dead" else jobs.c.id == int(which)
        with self.engine.begin() as c:
            rows = c.execute(sa.select(jobs.c.id, jobs.c.results).where(where)).all()
            for job_id, results in rows:
                c.execute(sa.update(jobs).where(jobs.c.id == job_id).values(
                    state=WRITTEN if results else STABLE, attempts=0, next_attempt_at=now,
                    lease_until=None, updated_at=now))
        return len(rows)

    def drop(self, job_id: int) -> int:
        """Remove job `job_id` (the --drop command); the number of rows removed."""
        jobs = self.t["jobs"]
        with self.engine.begin() as c:
            return c.execute(sa.delete(jobs).where(jobs.c.id == job_id)).rowcount

    def counts(self) -> dict[str, int]:
        """Studies waiting to be stable, then jobs per state: what --status prints."""
        jobs, studies = self.t["jobs"], self.t["studies"]
        with self.engine.connect() as c:
            out = dict.fromkeys((RECEIVED, *STATES), 0)
            out.update({s: n for s, n in c.execute(
                sa.select(jobs.c.state, sa.func.count()).group_by(jobs.c.state))})
            out[RECEIVED] = c.execute(sa.select(sa.func.count()).select_from(studies).where(
                studies.c.jobbed_generation < studies.c.generation)).scalar_one()
        return out

    def listing(self, limit: int = 200) -> list[dict]:
        """The latest `limit` jobs, newest first, as plain dicts (what --status lists)."""
        jobs = self.t["jobs"]
        with self.engine.connect() as c:
            rows = c.execute(sa.select(jobs).order_by(jobs.c.id.desc()).limit(limit)).mappings()
            return [dict(r) for r in rows]

    def audit(self, event: str, study_uid: str | None = None, route: str | None = None,
              detail: str = "") -> None:
        """Append one event of this node to the audit table."""
        with self.engine.begin() as c:
            c.execute(sa.insert(self.t["audit"]).values(at=time.time(), event=event,
                                                        node=self.worker[:64],
                                                        study_uid=study_uid, route=route,
                                                        detail=detail[:4000]))
