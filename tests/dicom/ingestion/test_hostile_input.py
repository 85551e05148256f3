"""create_database on files built to hurt it: each ends as one row or one reject.

The CLI runs as a user runs it (a subprocess, 2 workers) under a 6 GiB
address-space cap; the peak RSS of the run and its workers is read from wait4.
"""

import json
import os
import socket
import time

import pydicom
import sqlalchemy as sa
from pydicom.data import get_testdata_file

from tests.support import hostile_files as hostile
from tests.support.cli import run_module, run_module_measured
from tests.support.dicom_files import gradient, image_dataset, to_bytes

GIB = 1 << 30


def _run(folder, db_url, *extra, timeout=120):
    report = folder.parent / "report.json"
    result, peak = run_module_measured(
        "dicom.create_database", f"--directory={folder}", f"--db_url={db_url}",
        "--workers=2", "--progress=false", f"--report={report}", *extra, timeout=timeout,
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(report.read_text())
    rejects = {os.path.basename(r["path"]): (r["kind"], r["reason"]) for r in outcome["rejects"]}
    return result, peak, outcome, rejects


def _rows(db_url, sql):
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as connection:
            return connection.exec_driver_sql(sql).all()
    finally:
        engine.dispose()


def _columns(db_url, *names):
    """The images table's `names` columns, quoted as each backend quotes them."""
    engine = sa.create_engine(db_url)
    try:
        images = sa.Table("images", sa.MetaData(), autoload_with=engine)
        with engine.connect() as connection:
            return [tuple(r) for r in connection.execute(
                sa.select(*(images.c[n] for n in names)))]
    finally:
        engine.dispose()


def _good(**attributes) -> bytes:
    return to_bytes(image_dataset(gradient(bits=12), bits_stored=12, **attributes))


def test_bombs_and_junk_are_refused_from_the_header_in_bounded_memory(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    files = {
        # 1 MB that inflates to 1 GiB; 1 KB holding 500,000 frames of 1 x 1.
        "deflate_1gib.dcm": hostile.deflate_bomb(hostile.header(23170, 23170, 16)),
        "frames_500k.dcm": hostile.deflate_bomb(hostile.header(1, 1, 8, frames=500_000)),
        # 2 GiB declared over 8 frames, each under the frame limit.
        "deflate_8_frames.dcm": hostile.deflate_bomb(hostile.header(16384, 16384, 8, frames=8)),
        "jpeg_40000.dcm": hostile.jpeg_file(hostile.header(40000, 40000, 8), hostile.small_jpeg()),
        "jpeg_stream_40000.dcm": hostile.jpeg_file(
            hostile.header(64, 64, 8), hostile.jpeg_claiming(40000, 40000)
        ),
        "rle_16384.dcm": hostile.rle_file(hostile.header(16384, 16384, 16)),
        "junk.dcm": os.urandom(10 << 20),
        "good.dcm": _good(),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
        assert len(data) <= 10 << 20
    with open(folder / "zeros_256mib.dcm", "wb") as handle:
        handle.truncate(256 << 20)  # sparse: zeros to read, nothing on disk
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    start = time.monotonic()
    result, peak, outcome, rejects = _run(folder, url)
    elapsed = time.monotonic() - start
    assert peak < 2 * GIB, f"peak RSS {peak / GIB:.2f} GiB"
    assert elapsed < 30, f"{elapsed:.1f} s"
    assert outcome["summary"]["ingested"] == 1
    assert rejects["deflate_1gib.dcm"] == (
        "too-large", "frame of 23170x23170x1 of 16 bits = 1,024.0 MiB is over --max_frame_mb 256")
    assert rejects["frames_500k.dcm"] == ("too-large", "500,000 frames is over --max_frames 10,000")
    assert rejects["deflate_8_frames.dcm"] == (
        "too-large", "8 frames of 16384x16384x1 of 8 bits = 2,048.0 MiB decoded is over "
        "--max_decoded_mb 512")
    assert rejects["jpeg_40000.dcm"][0] == "too-large"
    assert rejects["rle_16384.dcm"] == (
        "too-large", "frame of 16384x16384x1 of 16 bits = 512.0 MiB is over --max_frame_mb 256")
    assert rejects["jpeg_stream_40000.dcm"] == (
        "invalid-image", "a compressed frame declares 40000x40000 pixels but the header says "
        "Columns x Rows = 64x64")
    for name in ("junk.dcm", "zeros_256mib.dcm"):
        assert rejects[name] == (
            "not-dicom", "not a DICOM file (no DICM signature, no DICOM tag first)")
    # The console groups the rejects by kind and names an example file of each.
    assert f"rejected too-large x5, e.g. {folder}/" in result.stderr


def test_a_deflated_dataset_stops_inflating_at_the_limit(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    # The header claims 64 x 64; the pixel element holds 1 GiB of zeros.
    lie = hostile.deflate_bomb(hostile.header(64, 64, 16), pixel_bytes=1 << 30)
    (folder / "bomb.dcm").write_bytes(lie)
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    _, peak, _, rejects = _run(folder, url, "--max_decoded_mb=8")
    assert rejects["bomb.dcm"] == (
        "too-large", "deflated dataset inflates past 72 MiB (--max_decoded_mb plus 64 MiB of "
        "header)")
    assert peak < 512 << 20


def test_a_file_within_the_limits_but_over_the_memory_cap_costs_only_itself(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    # 2 x 256 MiB declared: within every header limit, over a 700 MiB worker.
    (folder / "big.dcm").write_bytes(hostile.deflate_bomb(hostile.header(11585, 11585, 16, 2)))
    (folder / "good.dcm").write_bytes(_good())
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    _, peak, outcome, rejects = _run(folder, url, "--worker_memory_mb=700")
    assert rejects["big.dcm"][0] == "too-large"
    assert rejects["big.dcm"][1].startswith("ran out of memory while decoding")
    assert outcome["summary"]["ingested"] == 1
    assert peak < GIB


def test_a_file_over_the_time_limit_is_rejected_and_the_run_goes_on(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a_slow.dcm").write_bytes(hostile.deflate_bomb(hostile.header(11585, 11585, 16, 2)))
    for index in range(6):
        (folder / f"good_{index}.dcm").write_bytes(_good())
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    _, _, outcome, rejects = _run(folder, url, "--file_timeout_s=1", "--batch_size=1")
    assert rejects == {"a_slow.dcm": (
        "timed-out", "reading took over --file_timeout_s 1 s; its worker was stopped")}
    assert outcome["summary"]["ingested"] == 6
    assert _rows(url, "SELECT COUNT(*) FROM images") == [(6,)]


def test_pipes_devices_and_sockets_are_rejected_unopened(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    os.mkfifo(folder / "pipe.dcm")  # opening it would block for ever
    os.symlink("/dev/zero", folder / "zero.dcm")  # reading it would never end
    os.symlink(folder / "pipe.dcm", folder / "link_to_pipe.dcm")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(folder / "socket.dcm"))
    (folder / "good.dcm").write_bytes(_good())
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    try:
        _, _, outcome, rejects = _run(folder, url, timeout=60)
    finally:
        server.close()
    assert rejects == {
        "pipe.dcm": ("not-a-regular-file", "named pipe (FIFO), not a regular file"),
        "link_to_pipe.dcm": ("not-a-regular-file", "named pipe (FIFO), not a regular file"),
        "zero.dcm": ("not-a-regular-file", "character device, not a regular file"),
        "socket.dcm": ("not-a-regular-file", "socket, not a regular file"),
    }
    assert outcome["summary"]["ingested"] == 1


def test_non_utf8_names_are_stored_and_printed_as_byte_escapes(db_url, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    name = b"M\xfcller\x1b[2J.dcm"  # Latin-1, with an escape sequence for good measure
    with open(os.path.join(os.fsencode(folder), name), "wb") as handle:
        handle.write(_good())
    with open(os.path.join(os.fsencode(folder), b"notes-\xe9.txt"), "wb") as handle:
        handle.write(b"not an image")
    result, _, outcome, rejects = _run(folder, db_url)
    assert outcome["summary"]["ingested"] == 1
    assert list(rejects) == ["notes-\\xe9.txt"]
    stored = _rows(db_url, "SELECT source_path FROM images")
    assert stored == [(f"{folder}/M\\xfcller\x1b[2J.dcm",)]
    assert "notes-\\xe9.txt" in result.stderr
    assert "\x1b" not in result.stdout + result.stderr
    again = run_module("dicom.create_database", f"--directory={folder}", f"--db_url={db_url}",
                       "--workers=2", "--progress=false")
    assert again.returncode == 0, again.stderr
    assert "already present 1" in again.stdout


def test_over_long_values_are_cut_to_their_columns_on_every_backend(db_url, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    study_uid = "1." + "2" * 100
    (folder / "long.dcm").write_bytes(_good(
        Modality="X" * 40, StudyInstanceUID=study_uid, BodyPartExamined="CHEST" + "Y" * 80,
        Manufacturer="M" * 300,
    ))
    _, _, outcome, _ = _run(folder, db_url)
    assert outcome["summary"]["ingested"] == 1
    messages = sorted(w["message"] for w in outcome["warnings"])
    assert messages == [
        "BodyPartExamined cut from 85 to its column's 64 characters",
        "Manufacturer cut from 300 to its column's 255 characters",
        "Modality cut from 40 to its column's 16 characters",
        "StudyInstanceUID cut from 102 to its column's 64 characters",
    ]
    assert _columns(db_url, "Modality", "StudyInstanceUID", "Manufacturer") == [
        ("X" * 16, study_uid[:64], "M" * 255)]


def test_file_meta_uid_keys_a_dataset_without_one(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    ds = image_dataset(gradient(bits=12), bits_stored=12)
    uid = ds.SOPInstanceUID
    del ds.SOPInstanceUID
    (folder / "no_uid.dcm").write_bytes(to_bytes(ds))
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    _, _, outcome, _ = _run(folder, url)
    assert outcome["summary"]["ingested"] == 1
    assert [w["message"] for w in outcome["warnings"]] == [
        "SOPInstanceUID missing or invalid; keyed by the file meta's MediaStorageSOPInstanceUID"]
    assert _rows(url, "SELECT ID FROM images") == [(uid,)]


def test_decode_failures_carry_every_decoders_message(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    ds = pydicom.dcmread(get_testdata_file("SC_rgb_jpeg_dcmtk.dcm"))
    fragment = bytearray(ds.PixelData)
    ds.PixelData = bytes(fragment[:200]) + bytes(len(fragment) - 200)
    ds.save_as(folder / "corrupt_jpeg.dcm")
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    _, _, _, rejects = _run(folder, url)
    kind, reason = rejects["corrupt_jpeg.dcm"]
    assert kind == "invalid-image"
    assert reason.startswith("cannot decode JPEG Baseline (Process 1) (1.2.840.10008.1.2.4.50): "
                             "Unable to decode as exceptions were raised by all available "
                             "plugins: pylibjpeg: ")
    assert "; pillow: " in reason


def test_nul_characters_in_values_are_stored_on_every_backend(db_url, tmp_path):
    """PostgreSQL refuses NUL in text; no value of a stranger's file may carry one there."""
    from dicom.ingestion.catalog import Catalog
    from dicom.ingestion.ingest import ingest_directory

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "nul.dcm").write_bytes(_good(
        StudyInstanceUID="1.2.3\x00.4", SeriesInstanceUID="1.2.3.5\x00", Modality="C\x00R",
        InstitutionName="Saint\x00Elsewhere", AccessionNumber="A\x0012", PatientID="P\x001",
        BodyPartExamined="CH\x00EST"))
    catalog = Catalog.open(sa.make_url(db_url))
    try:
        summary = ingest_directory(str(folder), catalog, workers=1, progress=False)
    finally:
        catalog.dispose()
    assert summary.ingested == 1, summary.rejects
    (row,) = _columns(db_url, "StudyInstanceUID", "SeriesInstanceUID", "Modality", "site",
                      "AccessionNumber", "patient_key", "BodyPartExamined")
    assert not any("\x00" in (value or "") for value in row)
    assert row[:3] == ("1.2.3.4", "1.2.3.5", "C R")
