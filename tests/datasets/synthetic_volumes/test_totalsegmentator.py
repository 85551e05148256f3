"""Step 0: the CT and empty masks go, ribs and vertebrae merge; bad trees are one line."""

from __future__ import annotations

import os

import numpy as np
import pytest

from datasets.synthetic_volumes.steps import preprocess_templates
from datasets.synthetic_volumes.totalsegmentator import TemplateLayoutError, template_files
from datasets.synthetic_volumes.volume_files import read_volume
from tests.support.cli import run_module
from tests.support.volumes import box, subject_tree

SHAPE = (12, 12, 12)


def test_step_0_deletes_ct_and_empty_masks_and_merges_ribs_and_vertebrae(tmp_path):
    rib_1, rib_2 = box(SHAPE, (1, 1, 1), (3, 9, 3)), box(SHAPE, (6, 1, 6), (8, 9, 8))
    subject = subject_tree(str(tmp_path), {
        "liver": box(SHAPE, (2, 2, 2), (7, 7, 7)),
        "brain": np.zeros(SHAPE, np.uint8),
        "rib_left_1": rib_1, "rib_right_1": rib_2,
        "vertebrae_L1": box(SHAPE, (5, 10, 5), (7, 12, 7)),
        "vertebrae_L2": np.zeros(SHAPE, np.uint8),
    })
    summaries = preprocess_templates(str(tmp_path), max_workers=1, progress=False)
    assert not os.path.exists(os.path.join(subject, "ct.nii.gz"))
    names = sorted(os.listdir(os.path.join(subject, "segmentations")))
    assert names == ["all_ribs.nii.gz", "all_vertebrae.nii.gz", "liver.nii.gz"]
    ribs = read_volume(os.path.join(subject, "segmentations", "all_ribs.nii.gz"))
    assert np.array_equal(ribs, (rib_1 | rib_2).astype(np.uint8))
    assert (summaries[0].ct_removed, summaries[0].empty_removed, summaries[0].merged,
            summaries[0].kept) == (True, 1, 4, 3)
    again = preprocess_templates(str(tmp_path), max_workers=1, progress=False)[0]
    assert (again.ct_removed, again.empty_removed, again.merged, again.kept) == (False, 0, 0, 3)
    assert len(template_files(str(tmp_path))) == 3


def test_a_folder_outside_the_layout_is_refused(tmp_path):
    (tmp_path / "scans" / "liver.nii.gz").parent.mkdir(parents=True)
    with pytest.raises(TemplateLayoutError, match="not in TotalSegmentator's layout"):
        template_files(str(tmp_path))


def test_the_command_reports_bad_trees_and_unreadable_files_in_one_line(tmp_path):
    result = run_module("datasets.synthetic_volumes.preprocess_totalsegmentator",
                        f"--totalsegmentator_path={tmp_path}", "--max_workers=1")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {tmp_path} is not in")
    subject_tree(str(tmp_path), {"liver": box(SHAPE, (1, 1, 1), (4, 4, 4))})
    broken = tmp_path / "s0001" / "segmentations" / "spleen.nii.gz"
    broken.write_bytes(b"not a nifti file at all")
    result = run_module("datasets.synthetic_volumes.preprocess_totalsegmentator",
                        f"--totalsegmentator_path={tmp_path}", "--max_workers=2")
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: cannot read NIfTI {broken}"), last
