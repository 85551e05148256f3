"""create_database --image_store: PNGs as content-addressed blobs outside SQL, read back
bit-identical through every catalog reader, checked by digest, verified and repaired with
dicom.verify_store; on SQLite and on the real MariaDB."""

from __future__ import annotations

import hashlib
import os

import pytest
import sqlalchemy as sa

from dicom.ingestion.catalog import build_tables
from dicom.ingestion.pixel_store import PixelStore, PixelStoreError, read_blob
from dicom.metadata.cleansing import AttributeLists
from dicom.synthetic.synthetic_dicom import SyntheticSpec, synthesize
from tests.support.cli import popen_module, run_module
from tests.support.ingest_runs import kill_tree, wait_for_rows


def _ingest(source: str, url: str, *extra: str):
    return run_module("dicom.create_database", f"--directory={source}", f"--db_url={url}",
                      "--workers=2", "--progress=false", *extra)


def _fetch(url: str, out: str):
    return run_module("dicom.fetch_image", "--query=all", f"--directory={out}",
                      f"--db_url={url}", "--progress=false")


def _images(folder: str) -> dict[str, bytes]:
    images = os.path.join(folder, "images")
    found = {}
    for name in os.listdir(images):
        with open(os.path.join(images, name), "rb") as handle:
            found[name] = handle.read()
    return found


def test_a_store_holds_every_png_once_and_readers_get_the_same_bytes(db_url, synthetic_tree,
                                                                    tmp_path):
    source, result = synthetic_tree
    store = str(tmp_path / "pixels")
    first = _ingest(source, db_url, f"--image_store={store}")
    assert first.returncode == 0, first.stderr
    again = _ingest(source, db_url, f"--image_store={store}")
    assert "already present" in again.stdout and "ingested 0 files" in again.stdout
    engine = sa.create_engine(db_url)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT image, image_uri, image_sha256 FROM images").fetchall()
    engine.dispose()
    assert len(rows) == len(result.images) and all(image is None for image, _, _ in rows)
    blobs = sorted(PixelStore(store).blobs())
    assert blobs == sorted({uri for _, uri, _ in rows})  # one file per distinct PNG
    for _, uri, digest in rows:
        assert uri.startswith(store) and os.path.basename(uri) == f"{digest}.png"
        with open(uri, "rb") as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == digest
    plain = f"sqlite:///{tmp_path / 'plain.sqlite'}"
    assert _ingest(source, plain).returncode == 0
    assert _fetch(db_url, str(tmp_path / "from_store")).returncode == 0
    assert _fetch(plain, str(tmp_path / "from_sql")).returncode == 0
    assert _images(str(tmp_path / "from_store")) == _images(str(tmp_path / "from_sql"))
    verified = run_module("dicom.verify_store", f"--image_store={store}", f"--db_url={db_url}")
    assert verified.returncode == 0
    assert f"checked {len(rows)} blob(s)" in verified.stdout and "0 orphan(s)" in verified.stdout


def test_a_missing_or_changed_blob_is_one_line_naming_the_image_and_can_be_repaired(
        synthetic_tree, tmp_path):
    source, _ = synthetic_tree
    url, store = f"sqlite:///{tmp_path / 'c.sqlite'}", str(tmp_path / "pixels")
    assert _ingest(source, url, f"--image_store={store}").returncode == 0
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT ID, image_uri FROM images ORDER BY ID").fetchall()
    missing, changed = rows[0], rows[1]
    os.remove(missing[1])
    with open(changed[1], "r+b") as handle:  # the same size, one byte flipped
        data = bytearray(handle.read())
        data[-5] ^= 0xFF
        handle.seek(0)
        handle.write(data)
    orphan = os.path.join(store, "00", "00", "0" * 64 + ".png")
    os.makedirs(os.path.dirname(orphan))
    open(orphan, "wb").close()

    fetched = _fetch(url, str(tmp_path / "out"))
    assert fetched.returncode == 2
    assert fetched.stderr.strip().splitlines()[-1].startswith(
        f"error: image {missing[0]}: its blob {missing[1]} is missing")
    checked = run_module("dicom.verify_store", f"--image_store={store}", f"--db_url={url}")
    assert checked.returncode == 1
    assert f"image {missing[0]}: its blob" in checked.stderr
    assert f"image {changed[0]}: its blob {changed[1]} no longer matches" in checked.stderr
    assert f"orphan {orphan}" in checked.stderr
    repaired = run_module("dicom.verify_store", f"--image_store={store}", f"--db_url={url}",
                          "--forget_broken", "--remove_orphans")
    assert repaired.returncode == 0 and "forgot the rows of 2 instance(s)" in repaired.stdout
    again = _ingest(source, url, f"--image_store={store}")
    assert "ingested 2 files" in again.stdout, again.stdout
    final = run_module("dicom.verify_store", f"--image_store={store}", f"--db_url={url}")
    assert final.returncode == 0 and "0 missing or changed, 0 orphan(s)" in final.stdout
    assert not os.path.exists(orphan)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT COUNT(*) FROM images").scalar() == len(rows)
    engine.dispose()


def test_read_blob_checks_the_digest(tmp_path):
    store = PixelStore(str(tmp_path / "s"))
    uri, digest = store.put(b"\x89PNG fake")
    assert store.put(b"\x89PNG fake") == (uri, digest)  # content-addressed: one file
    assert read_blob(uri, digest, "IMG") == b"\x89PNG fake"
    with pytest.raises(PixelStoreError, match=r"image IMG: its blob .* no longer matches"):
        read_blob(uri, "0" * 64, "IMG")


def test_a_catalog_made_before_pixel_stores_and_an_unwritable_store_are_refused(
        synthetic_tree, tmp_path):
    source, _ = synthetic_tree
    old = tmp_path / "old.sqlite"
    metadata = sa.MetaData()
    images, _ = build_tables(metadata, AttributeLists())
    images.c.image.nullable = False  # as catalogs had it before pixel stores
    engine = sa.create_engine(f"sqlite:///{old}")
    metadata.create_all(engine)
    engine.dispose()
    refused = _ingest(source, f"sqlite:///{old}", f"--image_store={tmp_path / 'p'}")
    assert refused.returncode == 2
    assert "was created before pixel stores" in refused.stderr.strip().splitlines()[-1]
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    refused = _ingest(source, f"sqlite:///{tmp_path / 'n.sqlite'}", f"--image_store={blocked}")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1].startswith(
        f"error: --image_store {blocked} cannot be written")


def test_a_killed_ingest_resumes_with_each_blob_once_and_no_orphans(tmp_path):
    source = str(tmp_path / "dicom")
    synthesize(source, SyntheticSpec(num_images=160, seed=9, size=96, defects=False))
    url, store = f"sqlite:///{tmp_path / 'c.sqlite'}", str(tmp_path / "pixels")
    process = popen_module("dicom.create_database", f"--directory={source}", f"--db_url={url}",
                           "--workers=2", "--batch_size=4", "--progress=false",
                           f"--image_store={store}")
    engine = sa.create_engine(url)
    try:
        seen = wait_for_rows(engine, "images", 30, process)
        assert process.poll() is None, "the ingest finished before it could be killed"
        kill_tree(process)
    finally:
        if process.poll() is None:
            process.kill()
    assert 30 <= seen < 160
    resumed = _ingest(source, url, f"--image_store={store}")
    assert resumed.returncode == 0, resumed.stderr
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT image_uri FROM images").scalars().all()
    engine.dispose()
    assert len(rows) == 160 and len(set(rows)) == 160
    assert sorted(PixelStore(store).blobs()) == sorted(rows)  # each once, no orphan
    # A write the kill cut short leaves a temporary file, never a blob under its name.
    verified = run_module("dicom.verify_store", f"--image_store={store}", f"--db_url={url}",
                          "--remove_orphans")
    assert verified.returncode == 0 and "0 missing or changed, 0 orphan(s)" in verified.stdout
    assert not [n for _, _, names in os.walk(store) for n in names if n.endswith(".partial")]
    plain = f"sqlite:///{tmp_path / 'plain.sqlite'}"
    assert _ingest(source, plain).returncode == 0
    assert _fetch(url, str(tmp_path / "a")).returncode == 0
    assert _fetch(plain, str(tmp_path / "b")).returncode == 0
    assert _images(str(tmp_path / "a")) == _images(str(tmp_path / "b"))
