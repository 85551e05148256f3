"""Multi-label records through the rest of train_image_classifier: mixed precision,
fine-tuning from a checkpoint with other labels (the logits excluded), and two TF_CONFIG
workers with the default flags."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from datasets.records.conversion import ConversionSettings, convert
from tests.support.cli import run_module
from tests.support.folders import multilabel_folder
from tests.support.multi_worker import finish, start_workers

pytestmark = pytest.mark.slow

TRAINING = ["--train_image_size=32", "--batch_size=8", "--log_every_n_steps=2",
            "--optimizer=adam", "--opt_epsilon=1e-7", "--learning_rate=0.01"]
NET = ["--model_name=resnet_v1_18", *TRAINING]
# The suite's one end-to-end run of a depthwise net, in bfloat16 with a fine-tune: the
# rest train ResNet-18, which starts in less than half MobileNet's time on a CPU.
MOBILENET = ["--model_name=mobilenet_v2_035", *TRAINING]


def _records(root, labels: tuple[str, ...], shards: int = 1) -> str:
    rng = np.random.default_rng(len(labels))
    rows = {f"{i:03d}": {n: str(rng.choice(["1", "0", "-1"])) for n in labels}
            for i in range(24)}
    multilabel_folder(str(root / "in"), rows, size=32)
    convert(ConversionSettings("dicom", str(root / "in"), str(root / "out"), "ml",
                               num_shards=shards, progress=False))
    return str(root / "out")


def test_mixed_precision_and_fine_tuning_onto_other_labels(tmp_path):
    first = _records(tmp_path / "a", ("Edema", "Mass", "Nodule"))
    base = tmp_path / "base"
    result = run_module("train_image_classifier", f"--train_dir={base}",
                        f"--dataset_dir={first}", "--max_number_of_steps=3",
                        "--mixed_precision", "--pos_weight=auto", *MOBILENET)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "loss" in result.stdout and os.path.exists(base / "model.ckpt-3.index")
    other = _records(tmp_path / "b", ("Effusion", "Pneumothorax"))
    tuned = tmp_path / "tuned"
    result = run_module("train_image_classifier", f"--train_dir={tuned}",
                        f"--dataset_dir={other}", f"--checkpoint_path={base}/model.ckpt-3",
                        "--checkpoint_exclude_scopes=MobilenetV2/Logits",
                        "--max_number_of_steps=2", *MOBILENET)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "(2 excluded)" in result.stderr
    with open(tuned / "medcv_train.json") as handle:
        config = json.load(handle)
    assert config["task"] == "multilabel" and config["class_names"] == ["Effusion",
                                                                        "Pneumothorax"]


def test_two_workers_train_multilabel_records_with_the_default_flags(tmp_path):
    records = _records(tmp_path, ("Edema", "Mass"), shards=2)
    train_dir = tmp_path / "run"
    outputs = finish(start_workers([f"--dataset_dir={records}", f"--train_dir={train_dir}",
                                    "--max_number_of_steps=4", "--seed=0", *NET],
                                   tmp_path, workers=2))
    assert "trained resnet_v1_18 to step 4" in outputs[0][0]
    assert "worker done at step 4" in outputs[1][0]
    assert os.path.exists(train_dir / "model.ckpt-4.index")
    assert [n for n in os.listdir(train_dir) if n.startswith("model.ckpt-4")]
