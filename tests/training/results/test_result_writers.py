"""The per-image SR writers: how many, the garbage collector left as it was found, and
highdicom left to them."""

from __future__ import annotations

import gc
import glob
import subprocess
import sys

import numpy as np
import pydicom
import pytest

from dicom.synthetic.synthetic_dicom import SyntheticSpec, synthesize
from training.results.dicom_results import ClassificationResults, writer_count
from training.results.result_codes import ResultCodes
from training.results.result_folder import ResultFolder
from training.results.result_identity import ModelIdentity, config_hash

NAMES = ["CHEST", "ABDOMEN", "HEAD"]


@pytest.mark.parametrize("cores, writers", [(1, 1), (2, 1), (3, 1), (4, 2), (8, 4), (64, 4)])
def test_one_writer_per_two_cores_at_most_four(cores, writers):
    assert writer_count(cores) == writers


def _results(folder: str) -> ClassificationResults:
    return ClassificationResults(ResultFolder(folder), NAMES,
                                 ModelIdentity("resnet_v1_18", 7, config_hash("run")),
                                 ResultCodes.load(), run_key="listing")


def test_writers_run_with_the_parents_objects_frozen_and_unfreeze_them_after(tmp_path):
    sources = synthesize(str(tmp_path / "dicom"), SyntheticSpec(
        num_images=3, seed=5, size=16, defects=False)).images
    assert gc.get_freeze_count() == 0
    results = _results(str(tmp_path / "sr"))  # the writers fork here
    frozen_while_writing = gc.get_freeze_count()
    for source in sources:
        results.add(source, np.array([0.7, 0.2, 0.1]))
    summary = results.finish()
    assert frozen_while_writing > 1000 and gc.get_freeze_count() == 0
    written = sorted(glob.glob(str(tmp_path / "sr" / "SR_*.dcm")))
    assert len(written) == len(summary.written) == 3
    sources_uids = {str(pydicom.dcmread(s, stop_before_pixels=True).SOPInstanceUID)
                    for s in sources}
    assert {e.sources[0] for e in summary.written} == sources_uids


def test_a_freeze_made_by_someone_else_is_left_to_them(tmp_path):
    source = synthesize(str(tmp_path / "dicom"), SyntheticSpec(
        num_images=1, seed=6, size=16, defects=False)).images[0]
    gc.freeze()
    try:
        results = _results(str(tmp_path / "sr"))
        results.add(source, np.array([0.2, 0.7, 0.1]))
        results.finish()
        assert gc.get_freeze_count() > 1000  # still frozen (less what was freed since)
    finally:
        gc.unfreeze()


def test_the_classifying_process_leaves_highdicom_to_the_writers(tmp_path):
    source = synthesize(str(tmp_path / "dicom"), SyntheticSpec(
        num_images=1, seed=7, size=16, defects=False)).images[0]
    script = f"""
import sys
import numpy as np
from training.results.dicom_results import ClassificationResults
from training.results.result_codes import ResultCodes
from training.results.result_folder import ResultFolder
from training.results.result_identity import ModelIdentity
results = ClassificationResults(ResultFolder({str(tmp_path / "sr")!r}), ["A", "B"],
                                ModelIdentity("net", 1, "hash"), ResultCodes.load(), "key")
results.add({source!r}, np.array([0.3, 0.7]))
print(len(results.finish().written), "highdicom" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1", "False"]
