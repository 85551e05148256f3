"""The node's main loop: receive, turn stable studies into jobs, infer, store, until told
to stop (SIGTERM drains: it stops accepting, finishes the batch in hand, and exits)."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import socket
import sys
import threading
import time
from concurrent.futures import Future
from concurrent.futures import wait as wait_for

from console.text import printable
from dicom.network.remote import PacsError
from dicom.network.spool import Spool
from dicom.network.store_handler import receive_into
from node.config import NodeConfig, Route
from node.inference import classify_jobs, segment_jobs
from node.job_queue import DEAD, STABLE, WRITTEN, Job, JobQueue
from node.metrics import NodeMetrics, serve
from node.result_writing import SrWriters
from node.routing import matches, wanted_keywords

log = logging.getLogger(__name__)
_TICK_SECONDS = 0.2
_TIDY_SECONDS = 30.0
MAX_INSTANCE_BYTES = 2 << 30


def node_name(config: NodeConfig) -> str:
    """This node's name in the queue: its host and its spool (one spool, one node), so a
    restarted node takes back at once what it held when it died."""
    digest = hashlib.sha256(os.path.abspath(config.spool).encode()).hexdigest()[:10]
    return f"{socket.gethostname()[:40]}:{digest}"


class InferenceNode:
    def __init__(self, config: NodeConfig, out=sys.stdout) -> None:
        self.config, self.out = config, out
        self.queue = JobQueue(config.database, node_name(config))
        self.routes = {r.name: r for r in config.routes}
        self.stopping = threading.Event()
        self.metrics = NodeMetrics(self.queue.counts)
        self._predictors: dict = {}
        self._stores: dict = {}
        self._writers = SrWriters()
        self._writing: list[tuple[Future, Job, Route, int]] = []
        """Jobs whose SRs the writers are making: (their future, job, route, images)."""

    def say(self, line: str) -> None:
        """One line of the node's own on its console, printable."""
        print(printable(line), file=self.out, flush=True)

    # -- receiving ----------------------------------------------------------------------
    def _received(self, study: str, caller: str) -> None:
        self.metrics.received.inc()

    def _refused(self, sop_uid: str, reason: str, caller: str) -> None:
        self.metrics.refused.inc()
        self.say(f"refused instance {sop_uid or '?'} from {caller}: {reason}")
        self.queue.audit("refused", None, None, f"{sop_uid} from {caller}: {reason}")

    # -- studies -> jobs ----------------------------------------------------------------
    def _schedule(self) -> None:
        for study, generation in self.queue.stable_studies(self.config.stable_seconds):
            instances = self.queue.instances_of(study)
            wanted = [r.name for r in self.config.routes
                      if any(matches(r.match, i.attributes) for i in instances)]
            opened = self.queue.open_jobs(study, generation, wanted,
                                          self.config.stable_seconds)
            if opened is None:  # another node took it, or an instance just reopened it
                continue
            if not opened.routes:
                for path in opened.forgotten:
                    if os.path.exists(path):
                        os.unlink(path)
                self.say(f"study {study}: no route matches its {len(instances)} instance(s); "
                         "dropped")
                self.queue.audit("dropped", study, None, f"{len(instances)} instances")
            else:
                again = f" (generation {generation}: supersedes)" if generation > 1 else ""
                self.say(f"study {study} stable: {len(instances)} instance(s) -> "
                         f"{', '.join(opened.routes)}{again}")

    # -- inference ----------------------------------------------------------------------
    def _predictor(self, route: Route):
        if route.name not in self._predictors:
            from training.serving.prediction import Predictor

            self._predictors[route.name] = Predictor.load(route.model)
        return self._predictors[route.name]

    def _infer(self) -> bool:
        self._collect()
        if len(self._writing) >= 2 * self.config.max_batch:  # the writers are behind: wait
            self._collect(block=True)
        jobs = self.queue.claim(STABLE, self.config.max_batch, self.config.lease_seconds)
        if not jobs:
            return False
        if len(jobs) < self.config.max_batch and self.config.max_wait_ms:
            # studies that become stable together share batches: wait a moment for more
            time.sleep(self.config.max_wait_ms / 1000)
            jobs += self.queue.claim(STABLE, self.config.max_batch - len(jobs),
                                     self.config.lease_seconds)
        by_route: dict[str, list[Job]] = {}
        for job in jobs:
            by_route.setdefault(job.route, []).append(job)
        for name, claimed in by_route.items():
            route = self.routes.get(name)
            if route is None:
                for job in claimed:
                    self._failed(job, f"route {name!r} is no longer in the configuration")
                continue
            work = []
            for job in claimed:
                instances = [i for i in self.queue.instances_of(job.study_uid)
                             if matches(route.match, i.attributes)]
                work.append((job, instances))
            self.say(f"{name}: inferring {sum(len(i) for _, i in work)} image(s) of "
                     f"{len(work)} stable study(ies)")
            started = time.perf_counter()
            try:
                predictor = self._predictor(route)
                if route.results == "seg":
                    outcomes = segment_jobs(predictor, route, work, self.config.results_dir,
                                            self.config.max_batch)
                    for job, instances in work:
                        self._outcome(job, route, len(instances), outcomes[job.id])
                else:
                    model, orders = classify_jobs(predictor, route, work,
                                                  self.config.results_dir,
                                                  self.config.max_batch)
                    for job, instances in work:  # written while the next batch is inferred
                        self._writing.append((self._writers.submit(model, orders[job.id]),
                                              job, route, len(instances)))
            except Exception as exc:  # the model itself failed: every job
                for job, instances in work:
                    self._outcome(job, route, len(instances), exc)
            self.metrics.inference_seconds.observe(time.perf_counter() - started)
        return True

    def _collect(self, block: bool = False) -> None:
        """Record the jobs whose results the writers have finished (all of them, when
        `block`: at the end of a run, or when too many wait)."""
        waiting = []
        for future, job, route, images in self._writing:
            if block or future.done():
                try:
                    outcome = future.result()
                except Exception as exc:  # that job's SRs failed, not the others'
                    outcome = exc
                self._outcome(job, route, images, outcome)
            else:
                waiting.append((future, job, route, images))
        self._writing = waiting

    def _outcome(self, job: Job, route: Route, images: int,
                 outcome: tuple[str, int] | Exception) -> None:
        if isinstance(outcome, Exception):
            self._failed(job, f"inference: {outcome}")
            return
        folder, without = outcome
        if without:
            log.warning("job %d: %d image(s) gave no result", job.id, without)
        self.queue.written(job, folder)
        self.queue.audit("written", job.study_uid, route.name,
                         f"generation {job.generation}, {images} images, model {route.model} "
                         f"({self._predictor(route).identity().version})")

    # -- storing ------------------------------------------------------------------------
    def _store_for(self, url: str):
        if url not in self._stores:
            from dicom.network.pacs_address import Credentials
            from dicom.network.result_store import open_store

            self._stores[url] = open_store(url, Credentials(), None, self.config.ae_title)
        return self._stores[url]

    def _store(self) -> bool:
        jobs = self.queue.claim(WRITTEN, 8, self.config.lease_seconds)
        if not jobs:
            return False
        from training.results.dicom_results import store_results
        from training.results.result_folder import ResultFolder

        for job in jobs:
            route = self.routes.get(job.route)
            if route is None or not route.store_to:
                self.queue.stored(job)  # results stay in the job's folder
                continue
            store = self._store_for(route.store_to)
            try:
                folder = ResultFolder(job.results or "")
                stored, refused = store_results(folder, store, store.describe())
            except (PacsError, OSError) as exc:
                self.metrics.store_failures.inc()
                self._failed(job, f"store to {store.describe()}: {exc}")
                continue
            if refused:
                self.metrics.store_failures.inc()
                self._failed(job, f"{store.describe()} refused: {refused[0]}")
                continue
            self.queue.stored(job)
            self.queue.audit("stored", job.study_uid, job.route,
                             f"{stored} object(s) to {store.describe()}")
            self.say(f"study {job.study_uid}: {job.route} results stored to "
                     f"{store.describe()}")
        return True

    def _failed(self, job: Job, error: str) -> None:
        state = self.queue.failed(job, error, self.config.max_attempts,
                                  self.config.backoff_seconds, self.config.max_backoff_seconds)
        self.queue.audit("failed", job.study_uid, job.route, error)
        outcome = (f"dead after {self.config.max_attempts} attempts" if state == DEAD
                   else "will retry")
        self.say(f"job {job.id} ({job.route}, study {job.study_uid}) {outcome}: {error}")

    # -- housekeeping -------------------------------------------------------------------
    def _tidy(self) -> None:
        """Studies done and quiet for `keep_instances_hours` leave the spool."""
        forgotten = self.queue.forget_finished(self.config.keep_instances_hours * 3600)
        for path in forgotten.paths:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        for folder in forgotten.folders:
            shutil.rmtree(folder, ignore_errors=True)
        if forgotten.studies:
            self.queue.audit("forgotten", None, None,
                             f"{len(forgotten.studies)} studies, {len(forgotten.paths)} "
                             "instances: results stored, quiet for keep_instances_hours")

    # -- the loop -----------------------------------------------------------------------
    def run(self) -> int:
        """Receive, route, infer and store until stopped (SIGTERM, SIGINT); the exit status."""
        from node.receiving import NodeReceiver

        self.queue.create()
        freed = self.queue.release_own()
        if freed:
            self.say(f"took back {freed} job(s) this node held when it stopped")
        spool = Spool(self.config.spool, MAX_INSTANCE_BYTES, self.config.min_free_mb << 20)
        spool.clear_temporary()
        receive_into(spool)
        os.makedirs(self.config.results_dir, exist_ok=True)
        receiver = NodeReceiver(self.queue, spool,
                                wanted_keywords(r.match for r in self.config.routes),
                                self._received, self._refused)
        server = receiver.start(self.config.ae_title, self.config.address, self.config.port,
                                self.config.allowed_ae_titles)
        stow = None
        if self.config.stowrs_port:
            from node.stowrs import StowReceiver, serve_stowrs

            try:
                stow = serve_stowrs(StowReceiver(receiver, spool), self.config.address,
                                    self.config.stowrs_port)
            except OSError:
                server.shutdown()
                raise
        http = None
        if self.config.metrics_port:
            http = serve(self.config.metrics_port, self.config.address, self.metrics,
                         lambda: not self.stopping.is_set())
        self.say(f"listening as {self.config.ae_title} on {self.config.address}:"
                 f"{self.config.port}"
                 + (f", STOW-RS on port {self.config.stowrs_port}" if stow else "")
                 + f"; {len(self.routes)} route(s); queue in "
                 f"{self.queue.engine.url.render_as_string(hide_password=True)}")
        tidied = 0.0
        try:
            while not self.stopping.is_set():
                if time.monotonic() - tidied > _TIDY_SECONDS:
                    self._tidy()
                    tidied = time.monotonic()
                self._schedule()
                busy = self._infer()
                busy = self._store() or busy
                if busy:
                    continue
                if self._writing:  # woken by the first finished job, or the tick
                    wait_for([w[0] for w in self._writing], _TICK_SECONDS,
                             return_when="FIRST_COMPLETED")
                else:
                    self.stopping.wait(_TICK_SECONDS)
        finally:
            server.shutdown()
            self._collect(block=True)  # the batch in hand is finished, then the writers go
            self._writers.close()
            if stow is not None:
                stow.shutdown()
            if http is not None:
                http.shutdown()
            self.say("stopped: the queue keeps what is left")
        return 0
