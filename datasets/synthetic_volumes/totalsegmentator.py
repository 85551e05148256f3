"""TotalSegmentator v1's layout and step 0 of the generator (preprocess_totalsegmentator).

A subject is `sNNNN/` holding `ct.nii.gz` and `segmentations/<organ>.nii.gz`,
one binary mask per organ. Step 0 keeps the labels only: it deletes the CT,
deletes empty masks, and merges `rib_*` into `all_ribs` and `vertebrae_*` into
`all_vertebrae` (the merged file is written before its parts are deleted, so
a killed run re-runs to the same result).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np

from datasets.synthetic_volumes.volume_files import NIFTI_SUFFIX, read_volume, write_volume

SEGMENTATIONS = "segmentations"
CT_FILE = "ct" + NIFTI_SUFFIX
SUBJECT = re.compile(r"^s\d+$")
MERGED = {"rib_": "all_ribs", "vertebrae_": "all_vertebrae"}


class TemplateLayoutError(ValueError):
    """A template folder that is not in TotalSegmentator's layout."""


def subjects(root: str) -> list[str]:
    """The `sNNNN` folders of a TotalSegmentator tree; an error when there are none."""
    if not os.path.isdir(root):
        raise TemplateLayoutError(f"{root} is not a directory")
    found = sorted(os.path.join(root, name) for name in os.listdir(root)
                   if SUBJECT.match(name)
                   and os.path.isdir(os.path.join(root, name, SEGMENTATIONS)))
    if not found:
        raise TemplateLayoutError(
            f"{root} is not in TotalSegmentator's layout: no sNNNN/{SEGMENTATIONS}/ folder "
            "(expected e.g. s0001/segmentations/liver.nii.gz)")
    return found


def template_files(root: str) -> list[str]:
    """Every organ mask of the tree, sorted (the order seeds refer to)."""
    files = [os.path.join(subject, SEGMENTATIONS, name)
             for subject in subjects(root)
             for name in sorted(os.listdir(os.path.join(subject, SEGMENTATIONS)))
             if name.endswith(NIFTI_SUFFIX) and not name.startswith(".")]
    if not files:
        raise TemplateLayoutError(f"{root} holds no {SEGMENTATIONS}/*{NIFTI_SUFFIX} template")
    return files


@dataclass
class SubjectSummary:
    subject: str
    ct_removed: bool = False
    empty_removed: int = 0
    merged: int = 0
    kept: int = 0


def preprocess_subject(subject: str) -> SubjectSummary:
    """Removes the subject's CT and merges its split organ masks into one each; says what it did.
    """
    summary = SubjectSummary(os.path.basename(subject))
    ct = os.path.join(subject, CT_FILE)
    if os.path.exists(ct):
        os.unlink(ct)
        summary.ct_removed = True
    folder = os.path.join(subject, SEGMENTATIONS)
    names = sorted(n for n in os.listdir(folder) if n.endswith(NIFTI_SUFFIX)
                   and not n.startswith("."))
    for prefix, merged_name in MERGED.items():
        parts = [n for n in names if n.startswith(prefix)]
        if not parts:
            continue
        target = os.path.join(folder, merged_name + NIFTI_SUFFIX)
        union = read_volume(target) > 0 if os.path.exists(target) else None
        for name in parts:
            mask = read_volume(os.path.join(folder, name)) > 0
            union = mask if union is None else union | mask
        assert union is not None  # `parts` is never empty
        if union.any():
            write_volume(target, union.astype(np.uint8))
        for name in parts:
            os.unlink(os.path.join(folder, name))
            summary.merged += 1
        names = [n for n in names if n not in parts]
        if union.any() and os.path.basename(target) not in names:
            names.append(os.path.basename(target))
    for name in names:
        path = os.path.join(folder, name)
        if not read_volume(path).any():
            os.unlink(path)
            summary.empty_removed += 1
        else:
            summary.kept += 1
    return summary
