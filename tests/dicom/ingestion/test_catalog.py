import pytest
import sqlalchemy as sa

from dicom.ingestion.catalog import Catalog, RejectRow
from dicom.ingestion.database_url import resolve_db_url
from dicom.metadata.cleansing import AttributeLists


def _row(uid: str, **extra):
    return {
        "ID": uid,
        "body_part": "CHEST",
        "BodyPartExamined": "Tête ✓",
        "body_part_source": "BodyPartExamined",
        "image": b"\x89PNG" + bytes(range(256)),
        "channels": 1,
        "bit_depth": 16,
        "frame": 1,
        "frame_count": 1,
        "Modality": "CR",
        "Rows": 2,
        "Columns": 2,
        "SOPInstanceUID": uid,
        "StudyInstanceUID": "1.2",
        "SeriesInstanceUID": "1.3",
        "patient_key": "P1",
        "source_path": f"/data/{uid}.dcm",
        "source_sha256": "a" * 64,
        **extra,
    }


def test_schema_roundtrip_and_reject_upsert(db_url):
    catalog = Catalog.open(resolve_db_url(db_url))
    catalog.write_batch([_row("1.2.3")], [RejectRow("/x/bad.dcm", "not-dicom", "first")])
    catalog.write_batch([], [RejectRow("/x/bad.dcm", "truncated", "second")])
    with catalog.engine.connect() as c:
        row = c.execute(sa.select(catalog.images)).one()._mapping
        rejects = c.execute(sa.select(catalog.rejects)).all()
    assert row["image"] == b"\x89PNG" + bytes(range(256))
    assert row["BodyPartExamined"] == "Tête ✓"  # utf8mb4 on MySQL
    assert [(r.path, r.kind, r.reason) for r in rejects] == [("/x/bad.dcm", "truncated", "second")]
    assert catalog.stored_fingerprints() == {"1.2.3": "a" * 64}
    # A path that is later accepted leaves the rejects table.
    catalog.write_batch([_row("1.2.4")], [], accepted_paths=["/x/bad.dcm"])
    assert catalog.count(catalog.rejects) == 0
    catalog.dispose()


def test_new_attribute_lists_add_columns_to_an_existing_catalog(db_url):
    Catalog.open(resolve_db_url(db_url)).dispose()
    lists = AttributeLists(("InstanceNumber", "EchoNumbers"), ("PatientSex", "KVP"))
    catalog = Catalog.open(resolve_db_url(db_url), lists)
    columns = {c["name"] for c in sa.inspect(catalog.engine).get_columns("images")}
    assert {"EchoNumbers", "KVP", "StudyDate"} <= columns  # added, and old ones kept
    indexes = {i["name"] for i in sa.inspect(catalog.engine).get_indexes("images")}
    assert "ix_images_body_part" in indexes
    catalog.dispose()


def test_a_catalog_without_the_unique_uid_key_gets_it(db_url):
    catalog = Catalog.open(resolve_db_url(db_url))
    with catalog.engine.begin() as c:  # as a catalog made before the key existed
        [key] = [i for i in catalog.images.indexes if i.name == "ux_images_sop_uid_frame"]
        c.execute(sa.schema.DropIndex(key))
    catalog.dispose()
    catalog = Catalog.open(resolve_db_url(db_url))
    unique = [i for i in sa.inspect(catalog.engine).get_indexes("images") if i["unique"]]
    assert [(i["name"], i["column_names"]) for i in unique] == [
        ("ux_images_sop_uid_frame", ["SOPInstanceUID", "frame"])
    ]
    catalog.write_batch([_row("1.2.3")], [])
    with pytest.raises(sa.exc.IntegrityError):
        catalog.write_batch([_row("1.2.3", ID="1.2.3-f1")], [])  # other ID, same UID and frame
    catalog.dispose()


def test_mysql_tables_are_utf8mb4(mysql_url):
    catalog = Catalog.open(resolve_db_url(mysql_url))
    with catalog.engine.connect() as c:
        collations = c.exec_driver_sql(
            "SELECT TABLE_NAME, TABLE_COLLATION FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE()"
        ).all()
    assert {name: coll.split("_")[0] for name, coll in collations} == {
        "images": "utf8mb4",
        "rejects": "utf8mb4",
        "catalog_settings": "utf8mb4",
    }
    catalog.dispose()
