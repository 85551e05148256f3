"""Short training runs on a tiny converted folder, for tests that compare two loops."""

from __future__ import annotations

import os

from datasets.records.conversion import ConversionSettings, convert
from tests.support.folders import classification_folder
from training.loop.optimizers import OptimizerSettings
from training.loop.trainer import TrainSettings, train


def tiny_records(root: str) -> str:
    """Eight 32x32 images of two classes, converted."""
    classification_folder(os.path.join(root, "in"), {"A": 4, "B": 4}, size=32)
    records = os.path.join(root, "out")
    convert(ConversionSettings("dicom", os.path.join(root, "in"), records, "dicom",
                               progress=False))
    return records


def step_losses(train_dir: str, records: str, steps: int = 6, **settings) -> dict[int, float]:
    """The loss after each call of the loop, by step: ResNet-18 at 32 px, batch 4, SGD,
    one synthetic batch repeated, the same initial weights every run (`seed`, 0 unless
    given)."""
    losses: dict[int, float] = {}
    settings.setdefault("seed", 0)
    train(TrainSettings(
        train_dir=train_dir, dataset_dir=records, model_name="resnet_v1_18",
        train_image_size=32, batch_size=4, max_number_of_steps=steps,
        optimizer=OptimizerSettings("sgd"), learning_rate=0.01, synthetic_data=True,
        learning_rate_decay_type="fixed", augment=False,
        save_interval_secs=10**6, save_summaries_secs=10**6, **settings,
    ), on_step=lambda step, loss: losses.__setitem__(step, float(loss)))
    return losses
