"""Temperature and Platt scaling: a deliberately over-confident model's expected
calibration error falls on held-out data once the scaling fitted on other data is
applied; decisions stay where they were; the saved record reads back or fails in one line."""

from __future__ import annotations

import numpy as np
import pytest

from training.classification.probability_scaling import (
    PLATT,
    TEMPERATURE,
    ProbabilityScaling,
    fit_platt,
    fit_temperature,
    logits_from_probabilities,
    read_scaling,
    write_scaling,
)
from training.evaluation.statistics import expected_calibration_error


def _overconfident_softmax(rng, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels, and the logits of a model whose logits are three times too large."""
    logits = rng.normal(0, 1.0, (count, 3))
    truth = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(3, p=p) for p in truth])
    return labels, 3 * logits


def _softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def test_temperature_scaling_reduces_the_overconfident_models_ece_on_held_out_data():
    rng = np.random.default_rng(0)
    fit_labels, fit_logits = _overconfident_softmax(rng, 3000)
    labels, logits = _overconfident_softmax(rng, 3000)
    temperature = fit_temperature(fit_labels, fit_logits)
    assert temperature == pytest.approx(3.0, rel=0.15)
    scaling = ProbabilityScaling(TEMPERATURE, "validation", 10, temperature=temperature)
    probabilities = _softmax(logits)
    scaled = scaling.apply_to_logits(logits, ["a", "b", "c"])
    # from probabilities alone (predictions read back), the same where nothing saturates
    np.testing.assert_allclose(scaling.apply(probabilities, ["a", "b", "c"]), scaled,
                               atol=1e-6)
    correct = probabilities.argmax(axis=1) == labels
    before = expected_calibration_error(correct, probabilities.max(axis=1))
    after = expected_calibration_error(correct, scaled.max(axis=1))
    assert before > 0.1 and after < before / 3, (before, after)
    assert np.array_equal(scaled.argmax(axis=1), probabilities.argmax(axis=1))
    assert np.allclose(scaled.sum(axis=1), 1.0, atol=1e-5)


def test_platt_scaling_per_label_reduces_ece_and_moves_thresholds_with_the_decisions():
    rng = np.random.default_rng(1)

    def draw(count: int):
        truth = rng.uniform(0.02, 0.98, (count, 2))
        targets = (rng.uniform(size=(count, 2)) < truth).astype(np.int64)
        targets[:50, 1] = -1  # unknown entries are left out of the fit
        logit = np.log(truth) - np.log1p(-truth)
        return targets, 3 * logit + 1  # the model's logits: over-confident and shifted

    fit_targets, fit_logits = draw(4000)
    targets, logits = draw(4000)
    platt = fit_platt(fit_targets, fit_logits, ["x", "y"])
    scaling = ProbabilityScaling(PLATT, "validation", 5, platt=platt)
    probabilities = 1 / (1 + np.exp(-logits))
    scaled = scaling.apply_to_logits(logits, ["x", "y"])
    np.testing.assert_allclose(scaling.apply(probabilities, ["x", "y"]), scaled, atol=1e-6)
    for index, name in enumerate(["x", "y"]):
        slope, intercept = platt[name]
        assert slope == pytest.approx(1 / 3, rel=0.15) and intercept == pytest.approx(-1 / 3,
                                                                                      abs=0.15)
        known = targets[:, index] >= 0
        truth = targets[known, index] == 1
        before = expected_calibration_error(truth, probabilities[known, index])
        after = expected_calibration_error(truth, scaled[known, index])
        assert after < before / 3, (name, before, after)
        raw = 0.4  # a threshold on the raw scale flags exactly the same images scaled
        assert np.array_equal(probabilities[:, index] >= raw,
                              scaled[:, index] >= scaling.threshold(name, raw) - 1e-7)


def test_a_label_without_both_classes_is_left_as_it_was():
    targets = np.array([[1, 0], [1, 1], [1, 0], [1, 1], [1, 0]])
    probabilities = np.full((5, 2), 0.7)
    platt = fit_platt(targets, logits_from_probabilities(probabilities, multi_label=True),
                      ["always", "mixed"])
    assert "always" not in platt
    scaling = ProbabilityScaling(PLATT, "validation", 5, platt={"mixed": [0.5, 0.0]})
    kept = scaling.apply(probabilities, ["always", "mixed"])
    assert np.array_equal(kept[:, 0], probabilities[:, 0].astype(np.float32))


def test_a_sure_model_is_scaled_on_its_logits_as_the_exports_graph_scales_it():
    """A logit 40 above the rest: float32 softmax gives 1 and 4e-18s. Scaling the
    probabilities clipped at 1e-7 said 0.53 at T=20 where the export's graph, on the
    logits, says 0.79: classify from a checkpoint disagreed with its SavedModel."""
    logits = np.array([[40.0, 0.0, 0.0], [0.0, 2.0, 1.0]])
    probabilities = _softmax(logits).astype(np.float32)
    scaling = ProbabilityScaling(TEMPERATURE, "validation", 6, temperature=20.0)
    on_logits = scaling.apply_to_logits(logits, ["a", "b", "c"])
    expected = _softmax(logits / 20.0)
    np.testing.assert_allclose(on_logits, expected, rtol=1e-6)
    assert on_logits[0, 0] == pytest.approx(0.7870, abs=1e-4)
    np.testing.assert_allclose(scaling.apply(probabilities, ["a", "b", "c"]), expected,
                               rtol=1e-5)


def test_the_record_reads_back_and_a_damaged_one_is_one_line(tmp_path):
    scaling = ProbabilityScaling(PLATT, "validation", 12, platt={"x": [0.5, -0.25]})
    write_scaling(scaling, str(tmp_path))
    assert read_scaling(str(tmp_path)) == scaling
    assert read_scaling(str(tmp_path / "nowhere")) is None
    (tmp_path / "calibration.json").write_text('{"method": "temperature", "split": "v", '
                                               '"step": 1, "temperature": -2}')
    with pytest.raises(ValueError, match=r"calibration\.json: method 'temperature'"):
        read_scaling(str(tmp_path))
    (tmp_path / "calibration.json").write_text("{not json")
    with pytest.raises(ValueError, match="is not a calibration file"):
        read_scaling(str(tmp_path))
