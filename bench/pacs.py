"""PACS in: a pull and a receiver against local peers, measured in the same run.

    make bench-pacs     (python -m bench.pacs --num_files 300 --push_files 500 --size 512)

Pull: `dicom.pull` over DICOMweb from a local Orthanc holding N CR/DX files of
512 x 512 12-bit, end to end into SQLite, against `create_database` ingesting the same
files from a local folder with the same workers (target >= 0.9x: retrieval overlaps
decoding).
Receive: instances acknowledged per second while dcmtk's storescu pushes M files to
`dicom.receive`, against dcmtk's own storescp receiving them to disk (target >= 0.7x,
with all M in the catalog at the end).
Each side's best of --rounds, interleaved.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time

from absl import app, flags

from dicom.ingestion.ingest import iter_files
from dicom.synthetic.synthetic_dicom import SyntheticSpec, synthesize
from tests.support.pacs_peers import NODELAY, PASSWORD, USER, free_port, start_orthanc

FLAGS = flags.FLAGS
flags.DEFINE_integer("num_files", 300, "Files the PACS holds for the pull.")
flags.DEFINE_integer("push_files", 500, "Files storescu pushes.")
flags.DEFINE_integer("size", 512, "Image size of the synthetic files.")
flags.DEFINE_integer("workers", 2, "Ingest workers on both sides.")
flags.DEFINE_integer("connections", 4, "dicom.pull --connections.")
flags.DEFINE_integer("rounds", 2, "Rounds; each side's best is reported.")
flags.DEFINE_string("work_dir", "bench_output/pacs", "Scratch folder.")
flags.DEFINE_list("parts", ["pull", "receive"], "Which to measure.")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "PYTHONPATH": ROOT, **NODELAY, "MEDCV_PACS_USER": USER,
       "MEDCV_PACS_PASSWORD": PASSWORD}


def _files(directory: str, count: int) -> list[str]:
    marker = os.path.join(directory, f".complete-{count}-{FLAGS.size}")
    if not os.path.exists(marker):
        shutil.rmtree(directory, ignore_errors=True)
        synthesize(directory, SyntheticSpec(count, seed=13, size=FLAGS.size, defects=False))
        open(marker, "w").close()
    return list(iter_files(directory))


def _uncompressed(files: list[str], directory: str) -> list[str]:
    """The push set as storescu sends it without transcoding: uncompressed copies (the
    synthesizer mixes in JPEG 2000 and RLE, which dcmtk cannot decode to send)."""
    import pydicom

    marker = os.path.join(directory, f".complete-{len(files)}")
    if not os.path.exists(marker):
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
        for index, path in enumerate(files):
            ds = pydicom.dcmread(path)
            if ds.file_meta.TransferSyntaxUID.is_compressed:
                ds.decompress()
            ds.save_as(os.path.join(directory, f"{index:05d}.dcm"), enforce_file_format=True)
        open(marker, "w").close()
    return sorted(os.path.join(directory, n) for n in os.listdir(directory) if n.endswith(".dcm"))


def _run(*command: str) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{command[2]} failed: {result.stderr[-2000:]}")
    return time.perf_counter() - started


def _rows(database: str) -> int:
    with sqlite3.connect(database) as connection:
        return connection.execute("SELECT COUNT(DISTINCT SOPInstanceUID) FROM images").fetchone()[0]


def pull_round(folder: str, orthanc, scratch: str, count: int) -> tuple[float, float]:
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    local = _run(sys.executable, "-m", "dicom.create_database", f"--directory={folder}",
                 f"--db_url=sqlite:///{scratch}/folder.sqlite", f"--workers={FLAGS.workers}",
                 "--progress=false")
    pulled = _run(sys.executable, "-m", "dicom.pull", f"--source={orthanc.dicomweb}",
                  f"--db_url=sqlite:///{scratch}/pull.sqlite", f"--spool_dir={scratch}/spool",
                  f"--workers={FLAGS.workers}", f"--connections={FLAGS.connections}",
                  "--progress=false")
    assert _rows(f"{scratch}/pull.sqlite") == _rows(f"{scratch}/folder.sqlite") == count
    return count / local, count / pulled


def _push(command: list[str]) -> None:
    result = subprocess.run(command, env=ENV, capture_output=True, text=True)
    if result.returncode != 0 or "Store Failed" in result.stderr:
        sys.exit(f"storescu failed: {result.stderr[-1500:]}")


def receive_round(files: list[str], scratch: str) -> tuple[float, float, float]:
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(f"{scratch}/storescp")
    port = free_port()
    peer = subprocess.Popen(["storescp", "-aet", "STORESCP", "-od",
                             f"{scratch}/storescp", str(port)], env=ENV)
    time.sleep(0.5)
    push = ["storescu", "-aet", "BENCH", "127.0.0.1", str(port), *files]
    started = time.perf_counter()
    _push(push)
    theirs = len(files) / (time.perf_counter() - started)
    peer.terminate()
    peer.wait()
    database = f"{scratch}/receive.sqlite"
    port = free_port()
    receiver = subprocess.Popen(
        [sys.executable, "-m", "dicom.receive", f"--port={port}", "--address=127.0.0.1",
         f"--db_url=sqlite:///{database}", f"--spool_dir={scratch}/spool",
         f"--workers={FLAGS.workers}", "--min_free_mb=1"], cwd=ROOT, env=ENV,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    while not receiver.stdout.readline().startswith("listening"):
        pass
    push[4] = str(port)
    started = time.perf_counter()
    _push(push)
    ours = len(files) / (time.perf_counter() - started)
    receiver.terminate()
    receiver.communicate(timeout=600)
    assert _rows(database) == len(files), "not every pushed file reached the catalog"
    return theirs, ours, _pynetdicom_ceiling(push)


def _pynetdicom_ceiling(push: list[str]) -> float:
    """pynetdicom's own SCP with a handler that does nothing: the most any Python C-STORE
    SCP on pynetdicom acknowledges here."""
    from pynetdicom import AE, evt

    from dicom.network.store_handler import MAX_PDU_BYTES, storage_contexts

    ae = AE("CEILING")
    ae.supported_contexts = storage_contexts()
    ae.maximum_pdu_size = MAX_PDU_BYTES
    port = free_port()
    server = ae.start_server(("127.0.0.1", port), block=False,
                             evt_handlers=[(evt.EVT_C_STORE, lambda event: 0x0000)])
    push[4] = str(port)
    started = time.perf_counter()
    _push(push)
    rate = (len(push) - 5) / (time.perf_counter() - started)
    server.shutdown()
    return rate


def main(argv: list[str]) -> None:
    del argv
    work = os.path.abspath(FLAGS.work_dir)
    folder = os.path.join(work, f"pull_files_{FLAGS.size}")
    files = _files(folder, FLAGS.num_files)
    push_files = _uncompressed(
        _files(os.path.join(work, f"push_files_{FLAGS.size}"), FLAGS.push_files),
        os.path.join(work, f"push_uncompressed_{FLAGS.size}"))
    orthanc = start_orthanc(os.path.join(work, "orthanc"))
    try:
        assert len(orthanc.upload(files)) == len(files)
        pulls, receives = [], []
        for _ in range(FLAGS.rounds):
            if "pull" in FLAGS.parts:
                pulls.append(pull_round(folder, orthanc, os.path.join(work, "pull"),
                                        len(files)))
            if "receive" in FLAGS.parts:
                receives.append(receive_round(push_files, os.path.join(work, "receive")))
    finally:
        orthanc.stop()
    if pulls:
        _report_pull(pulls, len(files))
    if receives:
        _report_receive(receives, len(push_files))


def _report_pull(pulls: list[tuple[float, float]], count: int) -> None:
    local, pulled = max(p[0] for p in pulls), max(p[1] for p in pulls)
    print(f"pull ({count} files of {FLAGS.size}x{FLAGS.size}, {FLAGS.workers} workers, "
          f"{FLAGS.connections} connections), best of {FLAGS.rounds}:")
    print(f"  create_database from a folder  {local:7.1f} files/s  1.00x")
    print(f"  dicom.pull over DICOMweb       {pulled:7.1f} files/s  {pulled / local:.2f}x "
          "(target >= 0.9x)")


def _report_receive(receives: list[tuple[float, float, float]], count: int) -> None:
    theirs, ours = max(r[0] for r in receives), max(r[1] for r in receives)
    ceiling = max(r[2] for r in receives)
    print(f"receive ({count} files pushed by storescu):")
    print(f"  dcmtk storescp to disk         {theirs:7.1f} instances/s  1.00x")
    print(f"  dicom.receive (acknowledged)   {ours:7.1f} instances/s  {ours / theirs:.2f}x "
          f"(target >= 0.7x; all {count} in the catalog)")
    print(f"  pynetdicom SCP, no-op handler  {ceiling:7.1f} instances/s  {ceiling / theirs:.2f}x "
          "(the ceiling of any pynetdicom receiver here)")


if __name__ == "__main__":
    app.run(main)
