"""Calibrated probabilities: temperature scaling (one class per image) or per-label Platt
scaling (multi-label), fitted on the validation split and kept beside `thresholds.json`.

eval_image_classifier fits the scaling and writes `calibration.json` to the train_dir;
classify_image, the SavedModel export and the DICOM SRs made from them apply it and say
so. Both are fitted to, and applied on, the model's logits: float32 probabilities lose
them where the model is sure (a softmax row of 1 and 1e-20s, a sigmoid of exactly 1), so
scaling probabilities would disagree with the export's graph on exactly those images.

Both scalings are monotone (temperature keeps every argmax, Platt's slope must be
positive), so discrimination (AUROC, the decisions) is unchanged; only the stated
probabilities move. A multi-label threshold chosen on the raw scale maps onto the
calibrated one (`threshold`), so a finding is flagged exactly where it was before.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field

import numpy as np

from files.atomic_file import write_atomic

CALIBRATION_FILE = "calibration.json"
TEMPERATURE = "temperature"
PLATT = "platt"
_SMALLEST = float(np.finfo(np.float32).tiny)  # what a float32 probability can hold
_BELOW_ONE = 1.0 - 2.0**-24
_TEMPERATURE_RANGE = (0.05, 20.0)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _SMALLEST, _BELOW_ONE)
    return np.log(p) - np.log1p(-p)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def logits_from_probabilities(probabilities: np.ndarray, multi_label: bool) -> np.ndarray:
    """The model's logits as far as its probabilities keep them, for predictions read back
    without them (predictions.csv): log p for a softmax (its logits up to a constant a row,
    which scaling ignores), the logit of p for sigmoids. Exact until a probability
    saturates in float32."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if multi_label:
        return _logit(probabilities)
    return np.log(np.clip(probabilities, _SMALLEST, 1.0))


@dataclass(frozen=True)
class ProbabilityScaling:
    method: str
    """temperature (single-label) or platt (multi-label, one slope and intercept a label)."""
    split: str
    """The split it was fitted on."""
    step: int
    """The checkpoint step whose validation predictions it was fitted to."""
    temperature: float | None = None
    platt: dict[str, list[float]] = field(default_factory=dict)
    """label -> [slope, intercept] on the logit; a label left as it was is absent."""

    def apply_to_logits(self, logits: np.ndarray, class_names: list[str]) -> np.ndarray:
        """Calibrated probabilities for a batch (rows: images) of the model's logits: what
        the export's graph computes (`logit_scale_and_shift`, then softmax or sigmoid)."""
        scale, shift = self.logit_scale_and_shift(class_names)
        scaled = np.asarray(logits, dtype=np.float64) * scale + shift
        if self.method == TEMPERATURE:
            return _softmax(scaled).astype(np.float32)
        return _sigmoid(scaled).astype(np.float32)

    def apply(self, probabilities: np.ndarray, class_names: list[str]) -> np.ndarray:
        """Calibrated probabilities for a batch of the model's probabilities, where its
        logits were not kept (`logits_from_probabilities`)."""
        probabilities = np.asarray(probabilities, dtype=np.float64)
        logits = logits_from_probabilities(probabilities, self.method == PLATT)
        out = self.apply_to_logits(logits, class_names)
        if self.method == PLATT:  # a label left as it was keeps its probability exactly
            kept = [i for i, name in enumerate(class_names) if name not in self.platt]
            out[..., kept] = probabilities[..., kept]
        return out

    def calibrated_thresholds(self, values: dict[str, float | None]) -> dict[str, float | None]:
        """Multi-label thresholds chosen on the raw scale, moved onto the calibrated one."""
        return {name: None if value is None else self.threshold(name, value)
                for name, value in values.items()}

    def logit_scale_and_shift(self, class_names: list[str]) -> tuple[list[float], list[float]]:
        """Per class, (a, b) with calibrated logits = a * logits + b: what the SavedModel
        applies in its graph (temperature: a = 1/T, b = 0)."""
        if self.method == TEMPERATURE:
            return [1.0 / float(self.temperature or 1.0)] * len(class_names), [0.0] * len(
                class_names)
        pairs = [self.platt.get(n, [1.0, 0.0]) for n in class_names]
        return [float(a) for a, _ in pairs], [float(b) for _, b in pairs]

    def threshold(self, name: str, raw: float) -> float:
        """A multi-label threshold on the raw scale, moved onto the calibrated one."""
        if self.method != PLATT or name not in self.platt:
            return raw
        slope, intercept = self.platt[name]
        return float(_sigmoid(slope * _logit(np.asarray(raw)) + intercept))

    def describe(self) -> str:
        """One line for a header or a result: which scaling, fitted where."""
        if self.method == TEMPERATURE:
            what = f"temperature scaling (T={self.temperature:.3f})"
        else:
            what = f"Platt scaling per label ({len(self.platt)} labels)"
        return f"{what}, fitted on split {self.split} at step {self.step}"

    def short(self) -> str:
        """A few characters for a DICOM LO value (an SR's algorithm version)."""
        if self.method == TEMPERATURE:
            return f"T={self.temperature:.3g}"
        return "Platt"

    def to_dict(self) -> dict:
        """The scaling as JSON-ready values, as calibration.json keeps it."""
        return {"method": self.method, "split": self.split, "step": self.step,
                "temperature": self.temperature, "platt": self.platt}


def logit_scale_and_shift(scaling: ProbabilityScaling | None,
                          class_names: list[str]) -> tuple[list[float], list[float]]:
    """Per class, (a, b) with calibrated logits = a * logits + b; (1, 0) without a
    scaling: what a graph applies before its softmax or sigmoid."""
    if scaling is None:
        return [1.0] * len(class_names), [0.0] * len(class_names)
    return scaling.logit_scale_and_shift(class_names)


def fit_temperature(labels: np.ndarray, logits: np.ndarray) -> float:
    """The temperature minimizing the negative log-likelihood of the true classes given
    the model's logits (Guo et al. 2017), searched on a log scale by SciPy's bounded
    scalar minimizer."""
    from scipy.optimize import minimize_scalar

    logits = np.asarray(logits, np.float64)
    rows = np.arange(len(labels))
    labels = np.asarray(labels, dtype=np.int64)

    def loss(log_temperature: float) -> float:
        scaled = logits / math.exp(log_temperature)
        scaled = scaled - scaled.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(scaled).sum(axis=1))
        return float(np.mean(log_norm - scaled[rows, labels]))

    low, high = (math.log(v) for v in _TEMPERATURE_RANGE)
    return float(math.exp(minimize_scalar(loss, bounds=(low, high), method="bounded").x))


def fit_platt(targets: np.ndarray, logits: np.ndarray,
              class_names: list[str]) -> dict[str, list[float]]:
    """Per label, a logistic regression of the truth on the model's logit over the label's
    known entries (scikit-learn, unpenalized). A label with fewer than two positives or
    negatives, or whose fitted slope is not positive, is left as it was."""
    from sklearn.linear_model import LogisticRegression

    out: dict[str, list[float]] = {}
    for index, name in enumerate(class_names):
        known = targets[:, index] >= 0
        truth = targets[known, index] == 1
        if truth.sum() < 2 or (~truth).sum() < 2:
            continue
        z = np.asarray(logits[known, index], np.float64).reshape(-1, 1)
        model = LogisticRegression(C=np.inf, max_iter=1000).fit(z, truth)
        slope, intercept = float(model.coef_[0, 0]), float(model.intercept_[0])
        if slope > 0 and math.isfinite(slope) and math.isfinite(intercept):
            out[name] = [slope, intercept]
    return out


def write_scaling(scaling: ProbabilityScaling, directory: str) -> str:
    """Writes calibration.json atomically into `directory`; returns its path."""
    path = os.path.join(directory or ".", CALIBRATION_FILE)
    write_atomic(path, (json.dumps(scaling.to_dict(), indent=2) + "\n").encode())
    return path


def read_scaling(directory: str) -> ProbabilityScaling | None:
    """The scaling recorded in `directory` (a train_dir or a SavedModel), or None."""
    path = os.path.join(directory, CALIBRATION_FILE)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            raw = json.load(handle)
        scaling = ProbabilityScaling(
            str(raw["method"]), str(raw["split"]), int(raw["step"]),
            None if raw.get("temperature") is None else float(raw["temperature"]),
            {str(k): [float(v[0]), float(v[1])] for k, v in (raw.get("platt") or {}).items()})
    except (OSError, KeyError, TypeError, ValueError, IndexError) as exc:
        raise ValueError(f"{path} is not a calibration file ({exc})") from None
    if scaling.method not in (TEMPERATURE, PLATT) or (
            scaling.method == TEMPERATURE and not (scaling.temperature or 0) > 0):
        raise ValueError(f"{path}: method {scaling.method!r} with temperature "
                         f"{scaling.temperature} is not a calibration")
    return scaling
