"""One evaluated split as rows: each example's record ID, patient key, targets,
probabilities and the catalog attributes its record carries; `predictions.csv` on disk.

Everything the evidence computes (intervals, subgroups, calibration, comparisons,
failures) starts from these rows, so a second model's `predictions.csv` can be
compared with this one's without re-running either.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

import numpy as np

from datasets.records.dataset_spec import DatasetSpec
from datasets.records.tasks import record_task
from files.atomic_file import write_atomic
from training.classification.ranking import ranking_scores
from training.evaluation.statistics import Column

PREDICTIONS_FILE = "predictions.csv"
ATTRIBUTE_COLUMN = "attribute:"


@dataclass
class SplitPredictions:
    """One row per evaluated example: its record ID, patient key, targets (class index, or
    per label 1/0 and -1 where unknown), probabilities and catalog attributes."""

    ids: list[str]
    patients: list[str]
    targets: np.ndarray
    probabilities: np.ndarray
    attributes: dict[str, list[str]] = field(default_factory=dict)
    """attribute name -> one value per row ('unknown' where the catalog had none)."""
    logits: np.ndarray | None = None
    """The model's logits where eval computed them (calibration is fitted on these);
    None for predictions read back from predictions.csv."""

    def subset(self, rows: np.ndarray) -> SplitPredictions:
        """The rows where `rows` (a boolean mask) is true."""
        return self.take(np.flatnonzero(rows))

    def take(self, rows: np.ndarray) -> SplitPredictions:
        """The rows at the indices `rows`, in that order."""
        return SplitPredictions([self.ids[i] for i in rows], [self.patients[i] for i in rows],
                                self.targets[rows], self.probabilities[rows],
                                {name: [values[i] for i in rows]
                                 for name, values in self.attributes.items()},
                                None if self.logits is None else self.logits[rows])

    def aligned_to(self, ids: list[str]) -> SplitPredictions:
        """These rows in the order of `ids`; ValueError when one is missing."""
        where = {example: row for row, example in enumerate(self.ids)}
        missing = [i for i in ids if i not in where]
        if missing:
            raise ValueError(f"{len(missing)} evaluated example(s) are not among the compared "
                             f"predictions, e.g. {missing[0]!r}")
        return self.take(np.asarray([where[i] for i in ids], dtype=np.int64))


def score_columns(predictions: SplitPredictions, task: str, class_names: list[str],
                  thresholds: dict[str, float | None] | None
                  ) -> tuple[list[Column], np.ndarray | None]:
    """One column per class (one-vs-rest, decided by argmax) or per label (over its known
    entries, decided by its threshold), ranked by log-odds (exact from the logits where eval
    has them); and, single-label, whether each image is right."""
    targets, probabilities = predictions.targets, predictions.probabilities
    multi_label = record_task(task).multi_label
    ranks = ranking_scores(probabilities, predictions.logits, multi_label)
    if multi_label:
        columns = []
        for index, name in enumerate(class_names):
            known = targets[:, index] >= 0
            limit = (thresholds or {}).get(name)
            limit = 0.5 if limit is None else limit
            chances = probabilities[known, index]
            columns.append(Column(name, known, targets[known, index] == 1, ranks[known, index],
                                  chances >= limit, chances))
        return columns, None
    labels = targets.astype(np.int64)
    predicted = probabilities.argmax(axis=1)
    everywhere = np.ones(len(labels), dtype=bool)
    return [Column(name, everywhere, labels == index, ranks[:, index], predicted == index,
                   probabilities[:, index]) for index, name in enumerate(class_names)], (
        predicted == labels)


def write_predictions(predictions: SplitPredictions, spec: DatasetSpec, split: str,
                      path: str) -> None:
    """`predictions.csv`: id, patient_key, split, then the targets (`label` for one class
    per image; `label:NAME` per label, 1/0/-1 unknown, for multi-label), one `p:NAME`
    probability per class or label, and one `attribute:NAME` per catalog attribute."""
    names = spec.class_names
    multilabel = spec.kind.multi_label
    attributes = list(predictions.attributes)
    header = ["id", "patient_key", "split",
              *([f"label:{n}" for n in names] if multilabel else ["label"]),
              *(f"p:{n}" for n in names), *(ATTRIBUTE_COLUMN + a for a in attributes)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row, (example, patient) in enumerate(zip(predictions.ids, predictions.patients,
                                                 strict=True)):
        target = predictions.targets[row]
        targets = ([str(int(v)) for v in target] if multilabel else [names[int(target)]])
        writer.writerow([example, patient, split, *targets,
                         *(_exact(p) for p in predictions.probabilities[row]),
                         *(predictions.attributes[a][row] for a in attributes)])
    write_atomic(path, buffer.getvalue().encode("utf-8"))


def _exact(probability: np.floating) -> str:
    """The shortest text that reads back to this very probability: rounding to a fixed
    number of places would tie near-saturated scores and move AUROC on a re-read."""
    return np.format_float_positional(probability, unique=True, trim="-")


def read_predictions(path: str) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of a `predictions.csv`."""
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def load_predictions(path: str, spec: DatasetSpec) -> SplitPredictions:
    """A `predictions.csv` (another model's, on the same records) as rows; ValueError in
    one line when its classes or labels are not the records'."""
    header, rows = read_predictions(path)
    names = spec.class_names
    wanted = [f"p:{n}" for n in names]
    missing = [c for c in wanted if c not in header]
    if missing or "id" not in header:
        raise ValueError(f"{path} is not a predictions.csv of these records' classes "
                         f"(missing {', '.join(missing[:3]) or 'id'})")
    if not rows:
        raise ValueError(f"{path} has no rows")
    try:
        probabilities = np.asarray([[float(r[c]) for c in wanted] for r in rows])
        if spec.kind.multi_label:
            targets = np.asarray([[int(r[f"label:{n}"]) for n in names] for r in rows])
        else:
            index = {n: i for i, n in enumerate(names)}
            targets = np.asarray([index[r["label"]] for r in rows])
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{path}: unreadable row ({exc})") from None
    return SplitPredictions([r["id"] for r in rows], [r.get("patient_key", "") for r in rows],
                            targets, probabilities)
