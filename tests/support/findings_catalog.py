"""The synthetic findings set as a user builds it: synthesize, ingest, import the CheXpert
table, fetch the labelled images."""

from __future__ import annotations

from tests.support.cli import run_module


def run(*args: str) -> str:
    """A command that must succeed; its stdout."""
    result = run_module(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def fetched_findings(root, num_images: int, size: int, seed: int) -> str:
    """ROOT/fetched: images/ and labels.csv of the synthetic findings set, through a
    catalog at ROOT/catalog.sqlite; returns the folder."""
    dicom, db = str(root / "dicom"), f"sqlite:///{root / 'catalog.sqlite'}"
    run("dicom.synthesize", f"--output_dir={dicom}", f"--num_images={num_images}",
        "--findings", "--defects=false", f"--seed={seed}", f"--size={size}")
    run("dicom.create_database", f"--directory={dicom}", f"--db_url={db}", "--workers=2",
        "--progress=false")
    run("dicom.import_labels", f"--table={dicom}/train.csv", "--label_set=chexpert",
        "--format=chexpert", f"--db_url={db}")
    fetched = str(root / "fetched")
    run("dicom.fetch_image", "--label_set=chexpert", f"--directory={fetched}",
        f"--db_url={db}", "--progress=false")
    return fetched
