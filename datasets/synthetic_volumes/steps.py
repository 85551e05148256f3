"""The generator's four steps as library calls, each parallel, seeded and resumable.

Every output is one file per index written whole (temp name, then rename), so a
re-run skips what exists and a killed run loses at most the files in flight.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass

from datasets.synthetic_volumes.ensemble_settings import EnsembleSettings
from datasets.synthetic_volumes.h5_samples import H5Summary, write_h5
from datasets.synthetic_volumes.label_ensembles import generate_ensemble
from datasets.synthetic_volumes.parallel import run_tasks
from datasets.synthetic_volumes.totalsegmentator import (
    SubjectSummary,
    preprocess_subject,
    subjects,
    template_files,
)
from datasets.synthetic_volumes.views import synthesize_pair
from datasets.synthetic_volumes.volume_files import (
    numbered_files,
    numbered_name,
    read_volume,
    write_volume,
)

VIEW1, VIEW2 = "view1", "view2"


@dataclass
class StepCounts:
    made: int = 0
    skipped: int = 0

    @classmethod
    def of(cls, outcomes: list[str]) -> StepCounts:
        """The counts of "made" and "skipped" outcomes."""
        counts = Counter(outcomes)
        return cls(counts["made"], counts["skipped"])


def _subject_task(subject: str, _shared) -> SubjectSummary:
    return preprocess_subject(subject)


def preprocess_templates(root: str, max_workers: int, progress: bool = True
                         ) -> list[SubjectSummary]:
    """Step 0 over every subject of a TotalSegmentator tree, in place."""
    summaries = run_tasks(_subject_task, subjects(root), max_workers, "step 0: subjects",
                          progress)
    template_files(root)  # an error when no non-empty template is left
    return summaries


def _ensemble_task(index: int, shared) -> str:
    templates, savedir, seed, settings = shared
    path = os.path.join(savedir, numbered_name(index))
    if os.path.exists(path):
        return "skipped"
    labels, _ = generate_ensemble(templates, index, seed, settings)
    write_volume(path, labels)
    return "made"


def generate_label_ensembles(templatedir: str, savedir: str, n_ensembles: int,
                             settings: EnsembleSettings, seed: int, max_workers: int,
                             progress: bool = True) -> StepCounts:
    """Step 1: ensembles 0 .. n_ensembles-1 as `savedir/NNNNNN.nii.gz`."""
    if n_ensembles < 1:
        raise ValueError(f"--n_ensembles must be at least 1, got {n_ensembles}")
    templates = template_files(templatedir)
    os.makedirs(savedir, exist_ok=True)
    outcomes = run_tasks(_ensemble_task, range(n_ensembles), max_workers, "step 1: ensembles",
                         progress, shared=(templates, savedir, seed, settings))
    return StepCounts.of(outcomes)


def _views_task(index: int, shared) -> str:
    ensembles, savedir, seed = shared
    targets = [os.path.join(savedir, view, numbered_name(index)) for view in (VIEW1, VIEW2)]
    if all(os.path.exists(t) for t in targets):
        return "skipped"
    labels = read_volume(ensembles[index])
    for target, (image, _) in zip(targets, synthesize_pair(labels, index, seed), strict=True):
        write_volume(target, image)
    return "made"


def generate_view_pairs(ensembledir: str, savedir: str, start_idx: int, end_idx: int,
                        seed: int, max_workers: int, progress: bool = True) -> StepCounts:
    """Step 2: `savedir/view1/NNNNNN.nii.gz` and `savedir/view2/...` for start..end-1."""
    ensembles = numbered_files(ensembledir)
    if not 0 <= start_idx < end_idx:
        raise ValueError(f"--start_idx={start_idx} and --end_idx={end_idx} must satisfy "
                         "0 <= start < end")
    missing = [i for i in range(start_idx, end_idx) if i not in ensembles]
    if missing:
        raise FileNotFoundError(f"--ensembledir {ensembledir} lacks ensemble "
                                f"{numbered_name(missing[0])} ({len(missing)} of "
                                f"{start_idx}..{end_idx - 1} missing); run generate_labels")
    outcomes = run_tasks(_views_task, range(start_idx, end_idx), max_workers,
                         "step 2: view pairs", progress, shared=(ensembles, savedir, seed))
    return StepCounts.of(outcomes)


def generate_h5_files(view1_dir: str, view2_dir: str, seg_dir: str, out_dir: str,
                      val_count: int, print_every: int = 0) -> H5Summary:
    """Step 3: train_data.hdf5 and val_data.hdf5 (skipped when both are complete)."""

    def report(index: int) -> None:
        if print_every and (index + 1) % print_every == 0:
            print(f"wrote sample {index:06d}", flush=True)

    return write_h5(view1_dir, view2_dir, seg_dir, out_dir, val_count, report)
