"""The inference node: throughput against classify_image, latency into Orthanc, and memory
with 1,000 studies queued.

    make bench-node   (python -m bench.node)

- Throughput: the same 200 studies of 4 DICOM images, classified with per-image SRs
  written, by `classify_image --dicom_output_dir` (the peer) and by the node. The node's
  queue is filled first (a node with a long `stable_seconds` takes the pushes, then
  stops); the measured node starts on that queue with `stable_seconds: 0`, so all studies
  are stable at once. Both are timed as whole processes, from their start (imports and
  model loading included) to the last SR written. Target: node >= 0.9x classify_image.
- Latency: a warm node with `stable_seconds: 2` stores into a real Orthanc over DICOMweb;
  from dcmsend's return (the study's last instance acknowledged) to the study's 4 SRs
  found in Orthanc. Target: at most stable_seconds + 2 s.
- Memory: the node's peak RSS (VmHWM) working through 1,000 queued one-image studies,
  against the same node through 10. Bounded: the ratio stays near 1.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

from absl import app, flags

from bench.classify import checkpoint  # also defines --model_name, --image_size
from dicom.synthetic.synthetic_dicom import SyntheticSpec, synthesize
from tests.support.pacs_peers import NODELAY, free_port, require_tool, start_orthanc

FLAGS = flags.FLAGS
flags.DEFINE_integer("node_studies", 200, "Studies of the throughput comparison.")
flags.DEFINE_integer("images_per_study", 4, "Images per study (throughput and latency).")
flags.DEFINE_integer("dicom_size", 128, "Rows and columns of the synthetic DICOM images.")
flags.DEFINE_integer("node_batch", 32, "classify_image --batch_size and the node's max_batch.")
flags.DEFINE_integer("node_rounds", 2, "Alternating rounds of each; the best counts.")
flags.DEFINE_integer("latency_studies", 5, "Studies pushed one at a time for the latency.")
flags.DEFINE_float("latency_stable_seconds", 2.0, "stable_seconds of the latency node.")
flags.DEFINE_integer("queued_studies", 1000, "One-image studies queued for the memory figure.")
flags.DEFINE_string("node_work_dir", "bench_output/node", "Scratch folder.")
flags.DEFINE_list("parts", ["throughput", "latency", "memory"], "What to measure.")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _config(folder: str, model: str, stable: float, store_to: str | None = None) -> str:
    """node.yaml for one route taking every CR and DX study, its queue in `folder`."""
    port = free_port()
    lines = [f"listen: {{ae_title: MEDCV_AI, port: {port}, address: 127.0.0.1}}",
             f"stable_seconds: {stable}", f"database: sqlite:///{folder}/node.sqlite",
             f"spool: {folder}/spool", "min_free_mb: 1", f"max_batch: {FLAGS.node_batch}",
             "routes:", "  - name: bench", "    match: {Modality: [CR, DX]}",
             f"    model: {model}", "    per: image"]
    if store_to:
        lines.append(f"    store_to: {store_to}")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "node.yaml")
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


class NodeProcess:
    """inference_node.py, started and waited for until it listens."""

    def __init__(self, config: str) -> None:
        with open(config) as handle:
            self.port = int(handle.read().split("port: ")[1].split(",")[0])
        self.started = time.perf_counter()
        self.log = config + ".log"  # a file: a pipe nobody reads would block the node
        with open(self.log, "w") as out:
            self.process = subprocess.Popen(
                [sys.executable, os.path.join(ROOT, "inference_node.py"),
                 f"--config={config}"], cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT},
                stdout=out, stderr=subprocess.STDOUT, text=True)
        while True:
            with open(self.log) as handle:
                if any(line.startswith("listening") for line in handle):
                    break
            if self.process.poll() is not None:
                raise RuntimeError(f"the node of {config} did not start: see {self.log}")
            time.sleep(0.05)

    def peak_rss(self) -> int:
        with open(f"/proc/{self.process.pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        return 0

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.communicate(timeout=120)


def _push(port: int, folder: str) -> None:
    """dcmsend every file under `folder` to the node; returns once each is acknowledged."""
    result = subprocess.run(
        [require_tool("dcmsend"), "--no-halt", "-aet", "BENCH", "-aec", "MEDCV_AI",
         "--scan-directories", "--recurse", "127.0.0.1", str(port), folder],
        env={**os.environ, **NODELAY}, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise RuntimeError(f"dcmsend failed: {result.stderr[-2000:]}")


def _stored_jobs(folder: str) -> int:
    import sqlite3

    with sqlite3.connect(os.path.join(folder, "node.sqlite"), timeout=30) as connection:
        return connection.execute(
            "SELECT COUNT(*) FROM node_jobs WHERE state = 'stored'").fetchone()[0]


def _filled_queue(work: str, model: str, images: str, name: str) -> str:
    """A node folder whose queue holds every study under `images`, none stable yet."""
    folder = os.path.join(work, name)
    if os.path.exists(os.path.join(folder, "filled")):
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    node = NodeProcess(_config(folder, model, 3600))
    try:
        _push(node.port, images)
    finally:
        node.stop()
    open(os.path.join(folder, "filled"), "w").close()
    return folder


def _node_round(filled: str, model: str, jobs: int) -> tuple[float, int]:
    """Seconds from the node's start to `jobs` jobs done, on a copy of a filled queue, and
    the node's peak RSS."""
    folder = filled + "-run"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(filled, folder, symlinks=True)
    config = _config(folder, model, 0)
    # the copy's spool paths are the filled queue's: the instances are read from there
    node = NodeProcess(config)
    try:
        while _stored_jobs(folder) < jobs:
            if node.process.poll() is not None:
                raise RuntimeError("the node stopped early")
            time.sleep(0.05)
        seconds = time.perf_counter() - node.started
        peak = node.peak_rss()
    finally:
        node.stop()
    return seconds, peak


def _classify_round(work: str, model: str, listing: str) -> float:
    out = os.path.join(work, "classify_srs")
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "classify_image.py"), f"--infile={listing}",
         f"--checkpoint_path={model}", f"--dicom_output_dir={out}",
         f"--outfile={out}.txt", f"--batch_size={FLAGS.node_batch}", "--progress=false"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT}, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return time.perf_counter() - started


def throughput(work: str, model: str) -> None:
    images = os.path.join(work, "studies")
    if not os.path.exists(images):
        synthesize(images, SyntheticSpec(num_images=FLAGS.node_studies * FLAGS.images_per_study,
                                         size=FLAGS.dicom_size, defects=False,
                                         images_per_study=FLAGS.images_per_study))
    paths = sorted(os.path.join(base, name) for base, _, names in os.walk(images)
                   for name in names if name.endswith(".dcm"))
    listing = os.path.join(work, "studies.txt")
    with open(listing, "w") as handle:
        handle.write("\n".join(paths) + "\n")
    filled = _filled_queue(work, model, images, "throughput")
    classify, node = [], []
    for _ in range(FLAGS.node_rounds):
        classify.append(_classify_round(work, model, listing))
        node.append(_node_round(filled, model, FLAGS.node_studies)[0])
    best_classify, best_node = min(classify), min(node)
    print(f"throughput, {len(paths)} images in {FLAGS.node_studies} studies, best of "
          f"{FLAGS.node_rounds}: classify_image {len(paths) / best_classify:.1f} images/s "
          f"({best_classify:.1f} s), node {len(paths) / best_node:.1f} images/s "
          f"({best_node:.1f} s): {best_classify / best_node:.2f}x (target >= 0.9x)")


def latency(work: str, model: str) -> None:
    import pydicom

    shutil.rmtree(os.path.join(work, "orthanc"), ignore_errors=True)  # no earlier SRs
    orthanc = start_orthanc(os.path.join(work, "orthanc"), authentication=False)
    folder = os.path.join(work, "latency")
    shutil.rmtree(folder, ignore_errors=True)
    studies = os.path.join(work, "latency_studies")
    shutil.rmtree(studies, ignore_errors=True)
    spec = SyntheticSpec(num_images=(FLAGS.latency_studies + 1) * FLAGS.images_per_study,
                         size=FLAGS.dicom_size, defects=False, seed=11,
                         images_per_study=FLAGS.images_per_study)
    by_study: dict[str, list[str]] = {}
    for path in synthesize(studies, spec).images:
        uid = str(pydicom.dcmread(path, stop_before_pixels=True).StudyInstanceUID)
        by_study.setdefault(uid, []).append(path)
    node = NodeProcess(_config(folder, model, FLAGS.latency_stable_seconds, orthanc.dicomweb))
    waits = []
    try:
        for number, (study, paths) in enumerate(sorted(by_study.items())):
            single = os.path.join(studies, f"push_{number}")
            os.makedirs(single)
            for path in paths:
                os.link(path, os.path.join(single, os.path.basename(path)))
            _push(node.port, single)
            acknowledged = time.perf_counter()
            while len(orthanc.rest("POST", "/tools/find", json={
                    "Level": "Instance",
                    "Query": {"Modality": "SR", "StudyInstanceUID": study}}).json()) < len(paths):
                if time.perf_counter() - acknowledged > 120:
                    raise RuntimeError(f"no SRs for study {study} after 120 s")
                time.sleep(0.05)
            if number:  # the first study warms the node up (the model loads then)
                waits.append(time.perf_counter() - acknowledged)
    finally:
        node.stop()
        orthanc.stop()
    print(f"latency, last acknowledgement to {FLAGS.images_per_study} SRs in Orthanc, "
          f"{len(waits)} studies: median {statistics.median(waits):.2f} s, max {max(waits):.2f} "
          f"s (target <= stable_seconds {FLAGS.latency_stable_seconds:g} + 2 = "
          f"{FLAGS.latency_stable_seconds + 2:g} s)")


def memory(work: str, model: str) -> None:
    peaks = {}
    for count in (10, FLAGS.queued_studies):
        images = os.path.join(work, f"queued_{count}")
        if not os.path.exists(images):
            synthesize(images, SyntheticSpec(num_images=count, size=32, defects=False,
                                             images_per_study=1, seed=5))
        filled = _filled_queue(work, model, images, f"memory_{count}")
        peaks[count] = _node_round(filled, model, count)[1]
    small, large = peaks[10], peaks[FLAGS.queued_studies]
    print(f"memory, node peak RSS: {FLAGS.queued_studies} studies queued "
          f"{large / 2**20:.0f} MiB, 10 studies {small / 2**20:.0f} MiB: "
          f"{large / small:.2f}x (bounded: near 1)")


def main(argv: list[str]) -> None:
    work = os.path.abspath(FLAGS.node_work_dir)
    os.makedirs(work, exist_ok=True)
    model = checkpoint(work)
    parts = {"throughput": throughput, "latency": latency, "memory": memory}
    unknown = set(FLAGS.parts) - set(parts)
    if unknown:
        raise app.UsageError(f"--parts: {', '.join(sorted(unknown))}: not one of "
                             f"{', '.join(parts)}")
    for name in FLAGS.parts:
        parts[name](work, model)


if __name__ == "__main__":
    app.run(main)
