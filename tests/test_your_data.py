"""docs/your-data.md, run as a user runs it: every `sh` block, top to bottom, in one
shell, against a real Orthanc holding synthetic radiographs, with a findings spreadsheet
keyed by accession number. Only the PACS address and credentials, the training length
and the image size are changed. Orthanc ends with one SR per catalogued image, under
its source study."""

from __future__ import annotations

import csv
import glob
import os
import re
import subprocess
import sys

import pydicom
import pytest

from tests.support.cli import ROOT
from tests.support.pacs_peers import PASSWORD, USER, start_orthanc

pytestmark = pytest.mark.slow  # pulls, trains, evaluates and stores SRs
GUIDE = os.path.join(ROOT, "docs", "your-data.md")
FINDINGS = ("Cardiomegaly", "Lung Opacity", "Lung Lesion", "Fracture")


def guide_script(replacements: dict[str, str]) -> str:
    """The guide's `sh` blocks in order, as one script, with `replacements` made."""
    with open(GUIDE, encoding="utf-8") as handle:
        blocks = re.findall(r"^```sh\n(.*?)^```", handle.read(), re.MULTILINE | re.DOTALL)
    script = "\n".join(blocks)
    for old, new in replacements.items():
        assert old in script, f"the guide no longer says {old!r}"
        script = script.replace(old, new)
    return "set -euo pipefail\n" + script


def _spreadsheet(root: str, path: str) -> int:
    """A hospital's findings table: one row per accession number (its study's first
    image's findings), as the synthetic set's CheXpert table has them."""
    with open(os.path.join(root, "train.csv"), newline="") as handle:
        by_image = {row["Path"].rsplit(".", 1)[0]: row for row in csv.DictReader(handle)}
    rows = {}
    for dicom in sorted(glob.glob(os.path.join(root, "*", "*", "*", "*.dcm"))):
        accession = str(pydicom.dcmread(dicom, stop_before_pixels=True).AccessionNumber)
        labels = by_image[os.path.relpath(dicom, root).rsplit(".", 1)[0]]
        rows.setdefault(accession, [str(int(float(labels[f]))) if labels[f] else ""
                                    for f in FINDINGS])
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Accession", *FINDINGS])
        writer.writerows([accession, *values] for accession, values in rows.items())
    return len(rows)


def test_the_guide_runs_from_the_pacs_to_srs_in_the_pacs(tmp_path):
    synthetic = tmp_path / "synthetic"
    made = subprocess.run([sys.executable, "-m", "dicom.synthesize",
                           f"--output_dir={synthetic}", "--num_images=96", "--findings",
                           "--size=48", "--defects=false"], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": ROOT}, timeout=300)
    assert made.returncode == 0, made.stderr[-2000:]
    work = tmp_path / "work"
    work.mkdir()
    assert _spreadsheet(str(synthetic), str(work / "findings.csv")) == 24
    orthanc = start_orthanc(str(tmp_path / "orthanc"))
    try:
        files = sorted(glob.glob(str(synthetic / "*" / "*" / "*" / "*.dcm")))
        assert len(orthanc.upload(files)) == 96
        script = guide_script({
            "dicomweb+http://pacs.example.org:8042/dicom-web": orthanc.dicomweb,
            "MEDCV_PACS_USER=reader": f"MEDCV_PACS_USER={USER}",
            "MEDCV_PACS_PASSWORD=change-me": f"MEDCV_PACS_PASSWORD={PASSWORD}",
            "--train_image_size=224": "--train_image_size=32",
            "--batch_size=32": "--batch_size=16",
            "--max_number_of_steps=5000": "--max_number_of_steps=40",
        })
        # as after `source .venv/bin/activate`: `python` is the project's
        environment = {**os.environ, "PYTHONPATH": ROOT,
                       "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"}
        environment.pop("MEDCV_DB_URL", None)
        ran = subprocess.run(["bash", "-c", script], cwd=work, env=environment,
                             capture_output=True, text=True, timeout=900)
        assert ran.returncode == 0, (ran.stdout[-3000:], ran.stderr[-3000:])
        srs = orthanc.rest("POST", "/tools/find", json={
            "Level": "Instance", "Query": {"Modality": "SR"}, "Expand": True}).json()
        sr_studies = {orthanc.rest("GET", f"/instances/{i['ID']}/simplified-tags").json()[
            "StudyInstanceUID"] for i in srs}
    finally:
        orthanc.stop()
    classified = [line for line in (work / "findings.txt").read_text().splitlines()
                  if not line.startswith("#")]
    assert len(classified) == 96 and len(srs) == 96  # one SR per image, in the PACS
    studies = {str(pydicom.dcmread(f, stop_before_pixels=True).StudyInstanceUID)
               for f in files}
    assert sr_studies == studies
    eval_dir = work / "findings_run" / "best" / "eval_test"  # where the guide says
    assert (eval_dir / "report.html").stat().st_size > 0
    assert (eval_dir / "model_card.md").exists()
    assert not [line for line in ran.stderr.splitlines() if line.startswith("error:")]
