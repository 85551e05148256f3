"""TF-Slim's learning-rate decay, with decay steps from the dataset spec's train size.

decay_steps = train examples / batch size * num_epochs_per_decay, as TF-Slim's
`_configure_learning_rate` computed it from the hand-typed SPLITS_TO_SIZES.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import keras

ScheduleBuilder = Callable[[float, int, float, float], object]
"""(learning rate, decay steps, decay factor, end learning rate) -> a rate or schedule."""

DECAY_TYPES: dict[str, ScheduleBuilder] = {
    "fixed": lambda rate, steps, factor, end: rate,
    "exponential": lambda rate, steps, factor, end: keras.optimizers.schedules.ExponentialDecay(
        rate, steps, factor, staircase=True),
    "polynomial": lambda rate, steps, factor, end: keras.optimizers.schedules.PolynomialDecay(
        rate, steps, end, power=1.0, cycle=False),
}
"""The registry of `--learning_rate_decay_type`: a new schedule is one entry."""


def decay_steps(num_train_examples: int, batch_size: int, num_epochs_per_decay: float) -> int:
    """Steps between decays: `num_epochs_per_decay` epochs of `batch_size` batches, at least 1."""
    return max(1, math.ceil(num_train_examples / batch_size * num_epochs_per_decay))


def build_schedule(
    decay_type: str,
    learning_rate: float,
    num_train_examples: int,
    batch_size: int,
    num_epochs_per_decay: float = 2.0,
    decay_factor: float = 0.94,
    end_learning_rate: float = 0.0001,
) -> object:
    """A float (fixed) or a Keras schedule of the optimizer's step counter."""
    builder = DECAY_TYPES.get(decay_type)
    if builder is None:
        raise ValueError(f"--learning_rate_decay_type={decay_type!r}; choose one of "
                         f"{', '.join(DECAY_TYPES)}")
    steps = decay_steps(num_train_examples, batch_size, num_epochs_per_decay)
    return builder(learning_rate, steps, decay_factor, end_learning_rate)


def current_learning_rate(optimizer: keras.optimizers.Optimizer) -> float:
    """The optimizer's learning rate now, whether fixed or scheduled."""
    rate = optimizer.learning_rate
    return float(rate.numpy() if hasattr(rate, "numpy") else rate)
