"""Redraw docs/results.png: a SEG and an SR stored by classify_image --store_to, beside
their source study in Orthanc's web UI, in headless Chromium.

    .venv/bin/python scripts/results_screenshot.py   (needs Debian's orthanc and chromium)

It synthesizes cardiac MR, trains a tiny UNet and a tiny classifier for a few steps,
runs classify_image with --dicom_output_dir and --store_to against a local Orthanc, and
photographs the study page.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from datasets.records.conversion import ConversionSettings, convert  # noqa: E402
from dicom.synthetic.cardiac_phantoms import CardiacSpec, synthesize_cardiac  # noqa: E402
from tests.support.cli import run_module  # noqa: E402
from tests.support.folders import classification_folder  # noqa: E402
from tests.support.pacs_peers import start_orthanc  # noqa: E402


def _run(module: str, *args: str) -> None:
    result = run_module(module, *args)
    if result.returncode != 0:
        sys.exit(result.stderr[-2000:])


def main() -> None:
    work = tempfile.mkdtemp(prefix="medcv-screenshot-")
    orthanc = start_orthanc(os.path.join(work, "orthanc"), authentication=False)
    try:
        synthesize_cardiac(os.path.join(work, "raw"), CardiacSpec(num_patients=1,
                           slices_per_patient=6, size=64, defects=False))
        series = sorted(glob.glob(os.path.join(work, "raw", "dicoms", "*", "*.dcm")))
        orthanc.upload(series)
        _run("dicom.contours", f"--data_dir={work}/raw", f"--output_dir={work}/masks")
        convert(ConversionSettings("segmentation", f"{work}/masks", f"{work}/seg_records",
                                   "cardiac", progress=False))
        _run("train_image_classifier", f"--train_dir={work}/unet",
             f"--dataset_dir={work}/seg_records", "--model_name=unet",
             "--model_options=depth=2,base_filters=8", "--train_image_size=64",
             "--batch_size=4", "--max_number_of_steps=20", "--optimizer=adam")
        classification_folder(f"{work}/cls", {"HEART": 6, "CHEST": 6}, size=32)
        convert(ConversionSettings("dicom", f"{work}/cls", f"{work}/cls_records", "dicom",
                                   progress=False))
        _run("train_image_classifier", f"--train_dir={work}/cls_train",
             f"--dataset_dir={work}/cls_records", "--model_name=mobilenet_v2_035",
             "--train_image_size=32", "--batch_size=8", "--max_number_of_steps=2")
        listing = os.path.join(work, "input.txt")
        with open(listing, "w") as handle:
            handle.write("\n".join(series) + "\n")
        for train_dir in ("unet", "cls_train"):
            _run("classify_image", f"--infile={listing}",
                 f"--checkpoint_path={work}/{train_dir}", f"--output_dir={work}/png",
                 f"--dicom_output_dir={work}/results", f"--store_to={orthanc.dicomweb}",
                 "--sr_per=study")
        [study] = orthanc.rest("GET", "/studies").json()
        chromium = shutil.which("chromium") or sys.exit("chromium is not installed")
        target = os.path.join(ROOT, "docs", "results.png")
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--no-first-run", f"--user-data-dir={work}/chrome",
                        "--window-size=1200,700", "--virtual-time-budget=4000",
                        f"--screenshot={target}",
                        f"{orthanc.url}/app/explorer.html#study?uuid={study}"],
                       check=True, capture_output=True, timeout=120)
        print(f"wrote {target}")
    finally:
        orthanc.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
