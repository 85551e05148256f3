"""TF-Slim's `--optimizer` choices and their parameter flags, as Keras 3 optimizers."""

from __future__ import annotations

from dataclasses import dataclass

import keras

OPTIMIZERS = ("adadelta", "adagrad", "adam", "ftrl", "momentum", "sgd", "rmsprop")


@dataclass(frozen=True)
class OptimizerSettings:
    """Defaults are TF-Slim's train_image_classifier defaults."""

    name: str = "rmsprop"
    adadelta_rho: float = 0.95
    adagrad_initial_accumulator_value: float = 0.1
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    opt_epsilon: float = 1.0
    ftrl_learning_rate_power: float = -0.5
    ftrl_initial_accumulator_value: float = 0.1
    ftrl_l1: float = 0.0
    ftrl_l2: float = 0.0
    momentum: float = 0.9
    rmsprop_momentum: float = 0.9
    rmsprop_decay: float = 0.9


def build_optimizer(settings: OptimizerSettings, learning_rate) -> keras.optimizers.Optimizer:
    name = settings.name
    if name == "adadelta":
        return keras.optimizers.Adadelta(learning_rate, rho=settings.adadelta_rho,
                                         epsilon=settings.opt_epsilon)
    if name == "adagrad":
        return keras.optimizers.Adagrad(
            learning_rate,
            initial_accumulator_value=settings.adagrad_initial_accumulator_value,
            epsilon=settings.opt_epsilon)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate, beta_1=settings.adam_beta1,
                                     beta_2=settings.adam_beta2, epsilon=settings.opt_epsilon)
    if name == "ftrl":
        return keras.optimizers.Ftrl(
            learning_rate, learning_rate_power=settings.ftrl_learning_rate_power,
            initial_accumulator_value=settings.ftrl_initial_accumulator_value,
            l1_regularization_strength=settings.ftrl_l1,
            l2_regularization_strength=settings.ftrl_l2)
    if name == "momentum":
        return keras.optimizers.SGD(learning_rate, momentum=settings.momentum)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate, rho=settings.rmsprop_decay,
                                        momentum=settings.rmsprop_momentum,
                                        epsilon=settings.opt_epsilon)
    raise ValueError(f"--optimizer={name!r}; choose one of {', '.join(OPTIMIZERS)}")
