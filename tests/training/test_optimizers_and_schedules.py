import keras
import numpy as np
import pytest

from datasets.records.dataset_spec import DatasetSpec, SplitSpec
from training.learning_rate import build_schedule, decay_steps
from training.optimizers import OPTIMIZERS, OptimizerSettings, build_optimizer
from training.trainer import resolve_class_weights


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_tf_slim_optimizer_builds(name):
    optimizer = build_optimizer(OptimizerSettings(name=name, opt_epsilon=0.5), 0.1)
    assert isinstance(optimizer, keras.optimizers.Optimizer)
    if name in ("adam", "rmsprop", "adadelta", "adagrad"):
        assert optimizer.epsilon == 0.5
    if name == "momentum":
        assert optimizer.momentum == 0.9


def test_decay_steps_come_from_the_train_split_size():
    assert decay_steps(1000, 32, 2.0) == 63
    schedule = build_schedule("exponential", 0.1, 1000, 32, 2.0, 0.5)
    assert float(schedule(62)) == pytest.approx(0.1)
    assert float(schedule(63)) == pytest.approx(0.05)  # staircase, as TF-Slim
    polynomial = build_schedule("polynomial", 0.1, 1000, 32, 2.0, end_learning_rate=0.01)
    assert float(polynomial(63)) == pytest.approx(0.01)
    assert build_schedule("fixed", 0.1, 1000, 32) == 0.1
    with pytest.raises(ValueError, match="learning_rate_decay_type"):
        build_schedule("cosine", 0.1, 1000, 32)


def _spec(counts: dict[str, int]) -> DatasetSpec:
    return DatasetSpec("dicom", "classification", "dicom", sorted(counts),
                       {"train": SplitSpec(sum(counts.values()), [], [], 0, counts)},
                       1, (8, 8), (8, 8), [8])


def test_class_weights_auto_balance_the_classes():
    weights = resolve_class_weights("auto", _spec({"A": 30, "B": 10}), "train")
    np.testing.assert_allclose(weights, [40 / 60, 40 / 20])
    np.testing.assert_allclose(resolve_class_weights("1,3", _spec({"A": 1, "B": 1}), "train"),
                               [1, 3])
    with pytest.raises(ValueError, match="needs 2 positive weights"):
        resolve_class_weights("1", _spec({"A": 1, "B": 1}), "train")
    assert resolve_class_weights(None, _spec({"A": 1}), "train") is None
