"""Failure analysis: the most confident errors per class or label, with their catalog
attributes and a thumbnail of the image each was made on.

Single-label: per true class, the wrongly classified images whose wrong answer had the
highest probability. Multi-label: per label, the false positives and false negatives
farthest from the label's threshold. Thumbnails are read back from the split's records
(only the records picked are decoded) and shown as 8-bit PNGs, stretched to their own
range, as a person reviewing them would look.
"""

from __future__ import annotations

import io

import numpy as np

from datasets.records.dataset_spec import MULTILABEL
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
        if task == MULTILABEL:
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


def thumbnails(files: list[str], ids: set[str], size: int = THUMBNAIL_SIZE) -> dict[str, bytes]:
    """record ID -> an 8-bit PNG thumbnail (longer side `size`), for the records of
    `files` whose ID is in `ids`; the other records are skipped without decoding."""
    import tensorflow as tf
    from PIL import Image

    from datasets.records import example_codec
    from datasets.records.record_images import as_png

    if not ids:
        return {}
    wanted = tf.constant(sorted(ids))
    id_only = {example_codec.ID: tf.io.FixedLenFeature([], tf.string, default_value="")}
    spec = example_codec.parsing_spec("classification")
    spec = {k: spec[k] for k in (example_codec.ENCODED, example_codec.FORMAT,
                                 example_codec.HEIGHT, example_codec.WIDTH,
                                 example_codec.CHANNELS, example_codec.ID)}
    records = tf.data.TFRecordDataset(files).filter(lambda r: tf.reduce_any(tf.equal(
        tf.io.parse_single_example(r, id_only)[example_codec.ID], wanted)))
    out: dict[str, bytes] = {}
    for raw in records:
        record = tf.io.parse_single_example(raw, spec)
        png = as_png(record[example_codec.ENCODED].numpy(),
                     record[example_codec.FORMAT].numpy().decode("utf-8"),
                     int(record[example_codec.HEIGHT]), int(record[example_codec.WIDTH]),
                     int(record[example_codec.CHANNELS]))
        pixels = np.asarray(Image.open(io.BytesIO(png))).astype(np.float64)
        low, high = float(pixels.min()), float(pixels.max())
        scaled = (pixels - low) / (high - low) * 255.0 if high > low else pixels * 0
        image = Image.fromarray(scaled.astype(np.uint8).squeeze())
        image.thumbnail((size, size))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        out[record[example_codec.ID].numpy().decode("utf-8", "replace")] = buffer.getvalue()
    return out
