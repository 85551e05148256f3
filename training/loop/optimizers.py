"""TF-Slim's `--optimizer` choices and their parameter flags, as Keras 3 optimizers.

`OPTIMIZERS` is the registry: a name (what `--optimizer` takes) and how to build it from
the settings and a learning rate (or schedule). A new optimizer is one entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras

from console.options import option


@dataclass(frozen=True)
class OptimizerSettings:
    """Defaults are TF-Slim's train_image_classifier defaults; each is also a flag."""

    name: str = option("rmsprop", "The optimizer.", flag="optimizer",
                       choices=lambda: list(OPTIMIZERS))
    adadelta_rho: float = option(0.95, "Decay rate for adadelta.")
    adagrad_initial_accumulator_value: float = option(0.1, "Starting value for adagrad.")
    adam_beta1: float = option(0.9, "Exponential decay of the 1st moment estimates (adam).")
    adam_beta2: float = option(0.999,
                               "Exponential decay of the 2nd moment estimates (adam).")
    opt_epsilon: float = option(1.0, "Epsilon of adadelta, adagrad, adam and rmsprop.")
    ftrl_learning_rate_power: float = option(-0.5, "Learning rate power (ftrl).")
    ftrl_initial_accumulator_value: float = option(0.1, "Starting accumulator (ftrl).")
    ftrl_l1: float = option(0.0, "L1 regularization strength (ftrl).")
    ftrl_l2: float = option(0.0, "L2 regularization strength (ftrl).")
    momentum: float = option(0.9, "Momentum of the momentum optimizer.")
    rmsprop_momentum: float = option(0.9, "Momentum (rmsprop).")
    rmsprop_decay: float = option(0.9, "Decay term (rmsprop).")


OptimizerBuilder = Callable[["OptimizerSettings", object], keras.optimizers.Optimizer]

OPTIMIZERS: dict[str, OptimizerBuilder] = {
    "adadelta": lambda s, rate: keras.optimizers.Adadelta(rate, rho=s.adadelta_rho,
                                                          epsilon=s.opt_epsilon),
    "adagrad": lambda s, rate: keras.optimizers.Adagrad(
        rate, initial_accumulator_value=s.adagrad_initial_accumulator_value,
        epsilon=s.opt_epsilon),
    "adam": lambda s, rate: keras.optimizers.Adam(rate, beta_1=s.adam_beta1,
                                                  beta_2=s.adam_beta2, epsilon=s.opt_epsilon),
    "ftrl": lambda s, rate: keras.optimizers.Ftrl(
        rate, learning_rate_power=s.ftrl_learning_rate_power,
        initial_accumulator_value=s.ftrl_initial_accumulator_value,
        l1_regularization_strength=s.ftrl_l1, l2_regularization_strength=s.ftrl_l2),
    "momentum": lambda s, rate: keras.optimizers.SGD(rate, momentum=s.momentum),
    "sgd": lambda s, rate: keras.optimizers.SGD(rate),
    "rmsprop": lambda s, rate: keras.optimizers.RMSprop(rate, rho=s.rmsprop_decay,
                                                        momentum=s.rmsprop_momentum,
                                                        epsilon=s.opt_epsilon),
}


def build_optimizer(settings: OptimizerSettings,
                    learning_rate: object) -> keras.optimizers.Optimizer:
    """The optimizer `settings.name` names; ValueError listing the choices otherwise."""
    builder = OPTIMIZERS.get(settings.name)
    if builder is None:
        raise ValueError(f"--optimizer={settings.name!r}; choose one of "
                         f"{', '.join(OPTIMIZERS)}")
    return builder(settings, learning_rate)
