"""Run one function over a list of elements as an Apache Beam pipeline, results in order.

The per-element work of an ingest or a conversion is the same function the native
engine runs in its process pool; Beam distributes it. Each result is pickled into a
text file under a temporary folder (on a shared or cloud path for a cluster:
`--beam_temp_location`) and read back by the driver in element order, so the
driver's bookkeeping (summaries, specs) is the native engine's own.

The runner is pinned: unless `--beam_pipeline_options` names one, the local
FnApiRunner runs in this process (`direct_num_workers` 1) or in that many worker
processes (multi_processing mode). Beam's default would first try to download the
Prism runner binary from the internet.
"""

from __future__ import annotations

import base64
import contextlib
import glob
import logging
import os
import pickle
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from typing import Any

LOCAL_RUNNER = "FnApiRunner"
_LOG_TAIL = 20


def pipeline_arguments(extra: str | Sequence[str] | None, num_workers: int) -> list[str]:
    """Beam's argv: the user's options, with the local runner pinned unless they name one."""
    arguments = shlex.split(extra) if isinstance(extra, str) else list(extra or [])
    if not any(a == "--runner" or a.startswith("--runner=") for a in arguments):
        arguments += [f"--runner={LOCAL_RUNNER}", "--default_sdk_harness_log_level=WARNING"]
        if num_workers > 1:
            arguments += [f"--direct_num_workers={num_workers}",
                          "--direct_running_mode=multi_processing"]
    return arguments


def uses_local_runner(arguments: Sequence[str]) -> bool:
    """Whether the pipeline arguments pick Beam's local FnApiRunner."""
    return f"--runner={LOCAL_RUNNER}" in arguments


class _Apply:
    """The DoFn body: (index, element) -> one text line holding (index, result)."""

    def __init__(self, function: Callable[[Any], Any]) -> None:
        self.function = function

    def __call__(self, indexed: tuple[int, Any]) -> str:
        index, element = indexed
        payload = pickle.dumps((index, self.function(element)), protocol=pickle.HIGHEST_PROTOCOL)
        return base64.b64encode(payload).decode("ascii")


@contextlib.contextmanager
def _quiet_beam(log_path: str, local_workers: bool) -> Iterator[None]:
    """Beam's own chatter off the console: its loggers at WARNING, and the local worker
    processes' start-up lines (they write to the inherited stderr) into `log_path`, whose
    tail is shown if the run fails."""
    root = logging.getLogger()
    level = root.level
    logging.getLogger("apache_beam").setLevel(logging.WARNING)
    if not local_workers:
        try:
            yield
        finally:
            root.setLevel(level)
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_path, "wb") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        yield
    except BaseException:
        _restore(saved)
        with open(log_path, encoding="utf-8", errors="replace") as log:
            tail = log.readlines()[-_LOG_TAIL:]
        if tail:
            print("the Beam workers' last lines:\n" + "".join(tail).rstrip(), file=sys.stderr)
        raise
    else:
        _restore(saved)
    finally:
        root.setLevel(level)


def _restore(saved: tuple[int, int]) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    for target, duplicate in zip((1, 2), saved, strict=True):
        os.dup2(duplicate, target)
        os.close(duplicate)


def run_on_beam(function: Callable[[Any], Any], elements: Sequence[Any],
                arguments: Sequence[str], temp_location: str | None = None,
                label: str = "work") -> list[Any]:
    """`[function(e) for e in elements]`, computed by a Beam pipeline."""
    if not elements:
        return []
    root = logging.getLogger()
    root_level = root.level
    root.setLevel(logging.ERROR)  # Beam's import warns of cloud clients it does not need
    try:
        import apache_beam as beam
        from apache_beam.options.pipeline_options import PipelineOptions
    finally:
        root.setLevel(root_level)
    scratch = tempfile.mkdtemp(prefix="medcv-beam-", dir=temp_location)
    local_workers = uses_local_runner(arguments) and "--direct_running_mode=multi_processing" in (
        arguments)
    try:
        prefix = os.path.join(scratch, "results")
        options = PipelineOptions(list(arguments))
        with _quiet_beam(os.path.join(scratch, "workers.log"), local_workers), \
                beam.Pipeline(options=options) as pipeline:
            _ = (pipeline
                 | f"{label}: elements" >> beam.Create(list(enumerate(elements)),
                                                       reshuffle=len(elements) > 1)
                 | f"{label}: run" >> beam.Map(_Apply(function))
                 | f"{label}: results" >> beam.io.WriteToText(prefix, file_name_suffix=".b64"))
        results: dict[int, Any] = {}
        for path in sorted(glob.glob(f"{prefix}*.b64")):
            with open(path, encoding="ascii") as handle:
                for line in handle:
                    index, result = pickle.loads(base64.b64decode(line))
                    results[index] = result
        missing = [i for i in range(len(elements)) if i not in results]
        if missing:
            raise RuntimeError(f"the Beam pipeline returned no result for {len(missing)} of "
                               f"{len(elements)} elements")
        return [results[i] for i in range(len(elements))]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
