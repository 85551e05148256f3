"""Failure analysis: the most confident errors per class or label, with their catalog
attributes and a thumbnail of the image each was made on.

Single-label: per true class, the wrongly classified images whose wrong answer had the
highest probability. Multi-label: per label, the false positives and false negatives
farthest from the label's threshold. Thumbnails are the model's inputs, kept while the
split is predicted (`FailureImages`), shown as 8-bit PNGs stretched to their own range.
"""

from __future__ import annotations

import io

import numpy as np

from datasets.records.tasks import record_task
from training.evaluation.split_predictions import SplitPredictions

DEFAULT_PER_CLASS = 4
THUMBNAIL_SIZE = 128


def most_confident_errors(predictions: SplitPredictions, task: str, class_names: list[str],
                          thresholds: dict[str, float | None] | None,
                          per_class: int = DEFAULT_PER_CLASS) -> list[dict]:
    """metrics.json's `failures`: rows of {class, id, patient_key, truth, predicted,
    probability, attributes}, most confident first within each class."""
    out: list[dict] = []
    probabilities, targets = predictions.probabilities, predictions.targets
    for index, name in enumerate(class_names):
        if record_task(task).multi_label:
            limit = (thresholds or {}).get(name)
            limit = 0.5 if limit is None else float(limit)
            known = targets[:, index] >= 0
            truth = targets[:, index] == 1
            flagged = probabilities[:, index] >= limit
            wrong = np.flatnonzero(known & (truth != flagged))
            margin = np.abs(probabilities[wrong, index] - limit)
            picked = wrong[np.argsort(-margin, kind="stable")[:per_class]]
            rows = [(int(r), "positive" if truth[r] else "negative",
                     "positive" if flagged[r] else "negative",
                     float(probabilities[r, index])) for r in picked]
        else:
            predicted = probabilities.argmax(axis=1)
            wrong = np.flatnonzero((targets == index) & (predicted != index))
            confidence = probabilities[wrong, predicted[wrong]]
            picked = wrong[np.argsort(-confidence, kind="stable")[:per_class]]
            rows = [(int(r), name, class_names[int(predicted[r])],
                     float(probabilities[r, predicted[r]])) for r in picked]
        for row, truth_text, predicted_text, probability in rows:
            out.append({"class": name, "id": predictions.ids[row],
                        "patient_key": predictions.patients[row], "truth": truth_text,
                        "predicted": predicted_text, "probability": probability,
                        "attributes": {a: v[row] for a, v in predictions.attributes.items()}})
    return out


class FailureImages:
    """Keeps, while a split is predicted, the model inputs of the images that can be among
    the most confident errors, so the report's thumbnails need no second pass over the
    records: per true class the wrong answers of highest probability (single-label); per
    label the negatives of highest probability and the positives of lowest (multi-label:
    whatever the threshold chosen later, its most confident errors are among these).
    Only the rows that enter are copied out of the batch."""

    def __init__(self, task: str, per_class: int = DEFAULT_PER_CLASS) -> None:
        self.multilabel = record_task(task).multi_label
        self.per_class = per_class
        self._kept: dict[tuple, list[tuple[float, int, str, np.ndarray]]] = {}
        self._order = 0

    def _offer(self, group: tuple, score: float, example: str, row: int, images) -> None:
        import heapq

        kept = self._kept.setdefault(group, [])
        if len(kept) >= self.per_class and score <= kept[0][0]:
            return
        self._order += 1
        entry = (score, self._order, example, np.asarray(images[row]))
        if len(kept) < self.per_class:
            heapq.heappush(kept, entry)
        else:
            heapq.heapreplace(kept, entry)

    def add(self, ids: list[str], targets: np.ndarray, probabilities: np.ndarray,
            images: np.ndarray) -> None:
        """One predicted batch: its IDs, targets, probabilities and model inputs."""
        if self.per_class <= 0:
            return
        if self.multilabel:
            for label in range(probabilities.shape[1]):
                for row in np.flatnonzero(targets[:, label] == 0):
                    self._offer(("fp", label), float(probabilities[row, label]), ids[row],
                                int(row), images)
                for row in np.flatnonzero(targets[:, label] == 1):
                    self._offer(("fn", label), -float(probabilities[row, label]), ids[row],
                                int(row), images)
            return
        predicted = probabilities.argmax(axis=1)
        for row in np.flatnonzero(predicted != targets):
            self._offer(("class", int(targets[row])), float(probabilities[row, predicted[row]]),
                        ids[row], int(row), images)

    def thumbnails(self, wanted: set[str], size: int = THUMBNAIL_SIZE) -> dict[str, bytes]:
        """record ID -> an 8-bit PNG thumbnail of its model input, stretched to its range,
        for the kept images among `wanted`."""
        from PIL import Image

        out: dict[str, bytes] = {}
        for kept in self._kept.values():
            for _, _, example, pixels in kept:
                if example not in wanted or example in out:
                    continue
                values = pixels.astype(np.float64)
                low, high = float(values.min()), float(values.max())
                scaled = (values - low) / (high - low) * 255.0 if high > low else values * 0
                image = Image.fromarray(scaled.astype(np.uint8).squeeze())
                image.thumbnail((size, size))
                buffer = io.BytesIO()
                image.save(buffer, format="PNG")
                out[example] = buffer.getvalue()
        return out
