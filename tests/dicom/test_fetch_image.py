import csv
import os

import pytest
import sqlalchemy as sa

from dicom.ingestion.catalog import Catalog
from dicom.ingestion.database_url import resolve_db_url
from dicom.ingestion.fetch import fetch_images, parse_query
from dicom.ingestion.ingest import ingest_directory
from tests.support.cli import run_module


@pytest.fixture
def filled(db_url, synthetic_tree):
    root, made = synthetic_tree
    catalog = Catalog.open(resolve_db_url(db_url))
    ingest_directory(root, catalog, workers=1, progress=False)
    yield catalog, made
    catalog.dispose()


def _expected(made, *labels):
    return sorted(label for label in made.labels.values() if label in labels)


def test_fetch_writes_images_labels_and_metadata(filled, tmp_path):
    catalog, made = filled
    out = tmp_path / "out"
    summary = fetch_images(catalog, str(out), ["chest", "ABDOMEN"], progress=False)
    images = sorted(os.listdir(out / "images"))
    labels = sorted(os.listdir(out / "labels"))
    assert summary.written == len(images) == len(_expected(made, "CHEST", "ABDOMEN")) > 0
    assert [n[:-4] for n in images] == [n[:-4] for n in labels]
    texts = sorted((out / "labels" / n).read_text().strip() for n in labels)
    assert texts == _expected(made, "CHEST", "ABDOMEN")
    with open(out / "metadata.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["ID"] + ".png" for r in rows] == images
    assert all(r["patient_key"].startswith("MRN") for r in rows)
    assert (out / "images" / images[0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_all_and_other_columns(filled, tmp_path):
    catalog, _ = filled
    assert fetch_images(catalog, str(tmp_path / "a"), None, progress=False).written == 24
    by_modality = fetch_images(
        catalog, str(tmp_path / "m"), ["CR"], column="Modality", metadata=False, progress=False
    )
    assert set(by_modality.labels) == {"CR"} and 0 < by_modality.written < 24
    assert not (tmp_path / "m" / "metadata.csv").exists()
    with pytest.raises(ValueError, match="not a catalog column"):
        fetch_images(catalog, str(tmp_path / "x"), ["1"], column="ID; DROP TABLE images")


@pytest.mark.parametrize(
    "query", ["CHEST' OR '1'='1", 'CHEST"; DROP TABLE images; --', "') OR 1=1 --"]
)
def test_sql_looking_queries_are_data(filled, tmp_path, query):
    catalog, _ = filled
    summary = fetch_images(catalog, str(tmp_path / "q"), parse_query(query), progress=False)
    assert summary.written == 0
    assert catalog.count() == 24  # the table is intact


def test_parse_query():
    assert parse_query("CHEST") == ["CHEST"]
    assert parse_query(" CHEST , ABDOMEN ") == ["CHEST", "ABDOMEN"]
    assert parse_query("ALL") is None
    with pytest.raises(ValueError):
        parse_query(" , ")


def test_cli(tmp_path, synthetic_tree):
    root, made = synthetic_tree
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    missing = run_module(
        "dicom.fetch_image", "--query", "CHEST", "--directory", str(tmp_path / "o"), "--db_url", url
    )
    assert missing.returncode == 2 and "run python -m dicom.create_database first" in missing.stderr
    assert (
        run_module(
            "dicom.create_database", "--directory", root, "--db_url", url, "--progress=false"
        ).returncode
        == 0
    )
    result = run_module(
        "dicom.fetch_image",
        "--query",
        "CHEST",
        "--directory",
        str(tmp_path / "o"),
        "--db_url",
        url,
        "--metadata",
        "True",
    )
    assert result.returncode == 0, result.stderr
    count = len(_expected(made, "CHEST"))
    assert result.stdout.strip() == f"fetched {count} images into {tmp_path / 'o'} (CHEST {count})"


def test_planted_ids_stay_inside_the_output_and_map_back(filled, tmp_path):
    """Anyone with INSERT on a shared catalog can plant an ID; no ID writes outside OUT."""
    catalog, _ = filled
    hostile = ["../../escaped", "/tmp/absolute", "a/b", "a_b", "clear\x1b[2J"]
    images = catalog.images
    with catalog.engine.begin() as connection:
        ids = connection.execute(sa.select(images.c.ID).order_by(images.c.ID)).scalars().all()
        for old, new in zip(ids[:len(hostile)], hostile, strict=True):
            connection.execute(sa.update(images).where(images.c["ID"] == old).values(ID=new))
    out = tmp_path / "deep" / "out"
    summary = fetch_images(catalog, str(out), None, progress=False)
    written = [os.path.relpath(os.path.join(base, name), tmp_path)
               for base, _, names in os.walk(tmp_path) for name in names
               if not name.startswith("catalog.sqlite")]  # the test's own catalog
    assert all(path.startswith(os.path.join("deep", "out")) for path in written), written
    assert not os.path.exists("/tmp/absolute.png")
    images = sorted(os.listdir(out / "images"))
    assert summary.written == len(images) == len(os.listdir(out / "labels"))
    with open(out / "metadata.csv", newline="") as handle:
        rows = {row["ID"]: row["filename"] for row in csv.DictReader(handle)}
    assert set(hostile) <= set(rows) and rows["a_b"] == "a_b.png"
    assert len({rows[h] for h in hostile}) == len(hostile)  # a/b and a_b do not collide
    assert sorted(rows.values()) == images
