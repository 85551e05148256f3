import keras
import numpy as np
import pytest

from datasets.records.dataset_spec import DatasetSpec, SplitSpec
from training.loop.learning_rate import build_schedule, decay_steps
from training.loop.optimizers import OPTIMIZERS, OptimizerSettings, build_optimizer
from training.loop.trainer import resolve_class_weights


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_tf_slim_optimizer_builds(name):
    settings = OptimizerSettings(
        name=name, opt_epsilon=0.5, adadelta_rho=0.8, adagrad_initial_accumulator_value=0.2,
        adam_beta1=0.7, adam_beta2=0.95, ftrl_learning_rate_power=-0.25,
        ftrl_initial_accumulator_value=0.3, ftrl_l1=0.01, ftrl_l2=0.02, momentum=0.6,
        rmsprop_momentum=0.4, rmsprop_decay=0.85)
    optimizer = build_optimizer(settings, 0.1)
    kind, expected = {
        "adadelta": (keras.optimizers.Adadelta, {"rho": 0.8, "epsilon": 0.5}),
        "adagrad": (keras.optimizers.Adagrad, {"initial_accumulator_value": 0.2,
                                               "epsilon": 0.5}),
        "adam": (keras.optimizers.Adam, {"beta_1": 0.7, "beta_2": 0.95, "epsilon": 0.5}),
        "ftrl": (keras.optimizers.Ftrl, {"learning_rate_power": -0.25,
                                         "initial_accumulator_value": 0.3,
                                         "l1_regularization_strength": 0.01,
                                         "l2_regularization_strength": 0.02}),
        "momentum": (keras.optimizers.SGD, {"momentum": 0.6}),
        "sgd": (keras.optimizers.SGD, {"momentum": 0.0}),
        "rmsprop": (keras.optimizers.RMSprop, {"rho": 0.85, "momentum": 0.4, "epsilon": 0.5}),
    }[name]
    assert type(optimizer) is kind
    assert {key: getattr(optimizer, key) for key in expected} == pytest.approx(expected)
    assert float(optimizer.learning_rate) == pytest.approx(0.1)
    # one step on a known gradient moves the weight as the update rule says
    weight = keras.Variable([1.0])
    optimizer.apply_gradients([(np.array([2.0], np.float32), weight)])
    # Keras Adam: m = (1 - b1) g, v = (1 - b2) g^2, step lr sqrt(1 - b2) / (1 - b1) times
    # m / (sqrt(v) + epsilon)
    adam = 0.1 * np.sqrt(1 - 0.95) / (1 - 0.7) * (0.3 * 2.0) / (np.sqrt(0.05 * 4.0) + 0.5)
    first_step = {"sgd": 1.0 - 0.1 * 2.0, "momentum": 1.0 - 0.1 * 2.0, "adam": 1.0 - adam}
    if name in first_step:
        assert float(weight.numpy()[0]) == pytest.approx(first_step[name], rel=1e-5)
    else:
        assert float(weight.numpy()[0]) < 1.0  # every rule moves against the gradient


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
