"""The record tasks: what a record's target is, declared once per task.

Every other module asks a task what it is (`record_task(spec.task).dense`) instead of
comparing its name, so a new task is one `register` call here (or in a module of its
own that calls it) plus its tests. The model side of a task (its activation and loss)
lives in training.loop.task_heads, keyed by the same names.
"""

from __future__ import annotations

from dataclasses import dataclass

from files.folder_layout import LABELS_DIR, MASKS_DIR

CLASSIFICATION = "classification"
SEGMENTATION = "segmentation"
MULTILABEL = "multilabel"


@dataclass(frozen=True)
class RecordTask:
    """One kind of target a record holds."""

    name: str
    #: A class per pixel (a mask), not per image.
    dense: bool = False
    #: Several independent yes/no labels per image, each with an unknown mask.
    multi_label: bool = False
    #: Where a source folder keeps each image's target (labels/ or masks/).
    targets_folder: str = LABELS_DIR
    #: What its targets are called in messages and in the dataset spec's counts.
    target_noun: str = "classes"
    #: What the DICOM results of its predictions are: "sr" (TID 1500) or "seg".
    result_kind: str = "sr"

    @property
    def single_label(self) -> bool:
        """One class per image, out of several (softmax)."""
        return not self.dense and not self.multi_label


TASKS: dict[str, RecordTask] = {}


def register(task: RecordTask) -> RecordTask:
    """Add `task` (a new name, or an existing one on purpose: tests) and return it."""
    TASKS[task.name] = task
    return task


register(RecordTask(CLASSIFICATION))
register(RecordTask(MULTILABEL, multi_label=True, target_noun="labels"))
register(RecordTask(SEGMENTATION, dense=True, targets_folder=MASKS_DIR, result_kind="seg"))


def record_task(name: str | None) -> RecordTask:
    """The task called `name` (None: the default, classification); a one-line ValueError
    naming the known tasks for any other name."""
    try:
        return TASKS[name or CLASSIFICATION]
    except KeyError:
        raise ValueError(f"unknown task {name!r}: known tasks are "
                         f"{', '.join(sorted(TASKS))}") from None
