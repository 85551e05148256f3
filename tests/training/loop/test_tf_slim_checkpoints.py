"""TF-Slim's checkpoints load, classify and fine-tune here with TF-Slim's own numbers.

The peer is TF-Slim itself: the tf-slim package's resnet_v1, resnet_v2 and
inception_v3 graphs with random weights and non-trivial batch-norm statistics,
saved as the model zoo (V1 single file, V2 folder without a state file) and as
TF-Slim's train_image_classifier does (global_step, optimizer slots, moving
averages, a `checkpoint` state file).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pytest
import tensorflow as tf

from datasets.records.conversion import ConversionSettings, convert
from files.png_codec import write_image
from nets.nets_factory import build_model, get_net
from nets.slim_names import slim_variables
from tests.support.cli import run_module
from tests.support.folders import classification_folder
from tests.support.tf_slim_graphs import (
    SlimCheckpoints,
    save_tf_slim_checkpoints,
    slim_eval_images,
)
from training.loop.checkpoints import checkpoint_key, open_checkpoint, restore
from training.loop.model_loading import load_model
from training.loop.run_config import ModelOverrides

pytestmark = pytest.mark.slow  # end-to-end: `pytest -m "not slow"` skips it

TOLERANCE = 1e-3  # max |logit difference| at logit std ~3
SIZES = {"resnet_v1_50": 64, "resnet_v2_50": 64, "inception_v3": 150}


@dataclass
class Peer:
    checkpoints: SlimCheckpoints
    size: int
    pngs: list[str]
    """Files classify_image reads; their TF-Slim eval preprocessing gave `images`."""


@pytest.fixture(scope="module")
def peers(tmp_path_factory):
    """TF-Slim's net `name`, built and saved on first use (~10 s each)."""
    built: dict[str, Peer] = {}

    def peer(name: str) -> Peer:
        if name not in built:
            built[name] = _build(name, str(tmp_path_factory.mktemp(name)))
        return built[name]

    return peer


def _build(name: str, root: str) -> Peer:
    size = SIZES[name]
    rng = np.random.default_rng(7)
    colour = [rng.integers(0, 256, (size + 12, size + 6, 3), dtype=np.uint8) for _ in range(2)]
    gray = rng.integers(0, 65536, (size + 8, size + 8), dtype=np.uint16)  # 16-bit, 1 channel
    pngs = []
    for index, pixels in enumerate([*colour, gray]):
        path = os.path.join(root, f"image_{index}.png")
        write_image(path, pixels)
        pngs.append(path)
    as_rgb = [*colour, np.repeat(gray[..., None], 3, axis=-1)]  # TF-Slim nets take 3 channels
    images = slim_eval_images(as_rgb, size, get_net(name).preprocessing)
    checkpoints = save_tf_slim_checkpoints(name, root, size, get_net(name).zoo_classes,
                                           images=images)
    return Peer(checkpoints, size, pngs)


def _logits(loaded, images) -> np.ndarray:
    return loaded.model(images, training=False)["logits"].numpy()


@pytest.mark.parametrize("name", sorted(SIZES))
def test_every_tf_slim_format_loads_and_computes_tf_slims_logits(peers, name):
    peer = peers(name)
    slim = peer.checkpoints
    index_file = os.path.join(slim.zoo_v2, f"{name}.ckpt.index")
    for path in (slim.zoo_v2, index_file, slim.zoo_v1, slim.train_dir):
        loaded = load_model(path, ModelOverrides(image_size=peer.size))  # the rest from the file
        assert (loaded.config.model_name, loaded.config.num_classes) == (
            name, get_net(name).zoo_classes)
        assert loaded.config.preprocessing == get_net(name).preprocessing
        total = len(slim.values)
        assert loaded.restore.summary() == (
            f"restored {total} of {total} variables from {loaded.prefix} (0 excluded)")
        logits = _logits(loaded, slim.images)
        assert np.abs(logits - slim.logits).max() <= TOLERANCE, path
        assert (logits.argmax(-1) == slim.logits.argmax(-1)).all()
    assert loaded.prefix.endswith("model.ckpt-8400")  # the state file's latest
    averaged = load_model(slim.train_dir, ModelOverrides(image_size=peer.size,
                                                         moving_average_decay=0.99))
    assert np.abs(_logits(averaged, slim.images) - slim.average_logits).max() <= TOLERANCE
    assert np.abs(slim.average_logits - slim.logits).max() > 0.5  # the shadows do differ


def _classified(output: str) -> list[list[str]]:
    return [line.split("\t") for line in output.splitlines() if not line.startswith("#")]


@pytest.mark.parametrize("name", ["resnet_v1_50", "resnet_v2_50"])
def test_classify_image_prints_tf_slims_classes_and_probabilities(peers, name, tmp_path):
    peer = peers(name)
    slim = peer.checkpoints
    listing = tmp_path / "input.txt"
    listing.write_text("\n".join([*peer.pngs, str(tmp_path / "missing.png")]) + "\n")
    flags = [f"--infile={listing}", f"--checkpoint_path={slim.zoo_v2}", "--tfrecord=False",
             f"--outfile={tmp_path / 'out.txt'}", f"--image_size={peer.size}", "--top_k=3",
             "--progress=false"]
    if slim.num_classes == 1001:  # class 0 is TF-Slim's background
        names = ["background", *map(str, range(1000))]
        flags.append("--labels_offset=1")
    else:
        names = [f"synset_{i}" for i in range(slim.num_classes)]
        (tmp_path / "labels.txt").write_text("".join(f"{i}:{n}\n" for i, n in enumerate(names)))
        flags.append(f"--labels_file={tmp_path / 'labels.txt'}")
    result = run_module("classify_image", *flags)
    assert result.returncode == 0, result.stderr[-3000:]
    total = len(slim.values)
    assert f"restored {total} of {total} variables from" in result.stderr
    rows = _classified((tmp_path / "out.txt").read_text())
    probabilities = tf.nn.softmax(slim.logits).numpy()
    assert len(rows) == len(peer.pngs) + 1
    for row, expected in zip(rows, probabilities, strict=False):
        best = int(expected.argmax())
        assert row[1] == names[best]
        assert abs(float(row[2]) - expected[best]) < 2e-4
        assert [r.split(":")[0] for r in row[3].split(",")] == [
            names[i] for i in np.argsort(-expected)[:3]]
    assert rows[-1][1] == "ERROR" and "missing" in rows[-1][-1]


def test_a_checkpoint_without_batch_norm_gamma_loads_with_gamma_one(tmp_path):
    rng = np.random.default_rng(3)
    images = rng.uniform(0, 1, (2, 64, 64, 3)).astype(np.float32)
    slim = save_tf_slim_checkpoints("resnet_v1_50", str(tmp_path), 64, 1000, images=images,
                                    scale=False)
    assert not any(key.endswith("/gamma") for key in slim.values)
    loaded = load_model(slim.zoo_v2, ModelOverrides(image_size=64))
    gammas = [v for k, v in slim_variables(loaded.model).items() if k.endswith("/gamma")]
    assert len(loaded.restore.unit_gammas) == len(gammas) == 53
    assert all(np.array_equal(g.numpy(), np.ones(g.shape)) for g in gammas)
    assert "53 batch-norm gamma(s) absent, set to 1" in loaded.restore.summary()
    assert np.abs(_logits(loaded, slim.images) - slim.logits).max() <= TOLERANCE


def test_fine_tuning_restores_exactly_the_checkpoint_outside_the_excluded_scopes(peers):
    slim = peers("resnet_v2_50").checkpoints
    model = build_model("resnet_v2_50", 7, 64)
    variables = slim_variables(model)
    initial = {k: v.numpy().copy() for k, v in variables.items() if "/logits/" in k}
    report = restore(model, open_checkpoint(slim.zoo_v2), ["resnet_v2_50.logits"])
    assert report.summary().startswith(f"restored {len(variables) - 2} of {len(variables)}")
    assert report.summary().endswith("(2 excluded)")
    for key, variable in variables.items():
        if key in initial:
            assert np.array_equal(variable.numpy(), initial[key]), key  # left as initialised
        else:
            assert np.array_equal(variable.numpy(), slim.values[key]), key  # bit-identical


def test_a_checkpoint_that_fits_no_net_says_what_it_holds(peers, tmp_path):
    slim = peers("resnet_v2_50").checkpoints
    model = build_model("mobilenet_v2_035", 3, 32)
    with pytest.raises(ValueError, match="holds TF-Slim's resnet_v2_50 with 1001 classes, "
                                         "none of whose variables fit"):
        restore(model, open_checkpoint(slim.zoo_v2), ignore_missing_vars=True)
    listing = tmp_path / "input.txt"
    listing.write_text(peers("resnet_v2_50").pngs[0] + "\n")
    result = run_module("classify_image", f"--infile={listing}", "--model_name=resnet_v2_101",
                        f"--checkpoint_path={slim.zoo_v1}", "--num_classes=1001")
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert "TF-Slim's resnet_v2_50 with 1001 classes" in last, last
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_module("classify_image", f"--infile={listing}", f"--checkpoint_path={empty}")
    assert result.returncode == 2 and "no checkpoint in" in result.stderr.splitlines()[-1]


def test_train_and_dicom_main_fine_tune_from_the_zoo_with_the_seeds_scopes(peers, tmp_path):
    """The seed's command: exclude and train only the logits; everything else stays
    bit-identical to TF-Slim's checkpoint through training, batch-norm statistics too."""
    slim = peers("resnet_v2_50").checkpoints
    classification_folder(str(tmp_path / "in"), {"A": 8, "B": 8, "C": 8}, size=32, patients=6)
    records = str(tmp_path / "records")
    convert(ConversionSettings("dicom", str(tmp_path / "in"), records, "dicom",
                               need_split="tvt_split", validation_size=0.2, test_size=0.2,
                               progress=False))
    train_dir = tmp_path / "tuned"
    result = run_module(
        "train_image_classifier", f"--train_dir={train_dir}", f"--dataset_dir={records}",
        "--model_name=resnet_v2_50", f"--checkpoint_path={slim.zoo_v2}",
        "--checkpoint_exclude_scopes=resnet_v2_50/logits",
        "--trainable_scopes=resnet_v2_50/logits", "--max_number_of_steps=2",
        "--train_image_size=32", "--batch_size=4", "--log_every_n_steps=1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "restored 270 of 272 variables from" in result.stderr
    assert "(2 excluded)" in result.stderr
    reader = tf.train.load_checkpoint(str(train_dir / "model.ckpt-2"))
    model = build_model("resnet_v2_50", 3, 32)
    for key, variable in slim_variables(model).items():
        stored = reader.get_tensor(checkpoint_key(variable.path))
        if "/logits/" in key:
            assert stored.shape[-1] == 3
        else:
            assert np.array_equal(stored, slim.values[key]), key
    offset = run_module("train_image_classifier", f"--train_dir={tmp_path / 'offset'}",
                        f"--dataset_dir={records}", "--model_name=resnet_v2_50",
                        f"--checkpoint_path={slim.zoo_v2}", "--labels_offset=1")
    assert offset.returncode == 2
    assert "have no background class" in offset.stderr.strip().splitlines()[-1]
    result = run_module("dicom_main", f"--data_dir={records}", f"--model_dir={tmp_path / 'dm'}",
                        "--version=2", "--resnet_size=50", "--image_size=32", "-bs=4",
                        "--max_train_steps=1", f"-pmcp={slim.zoo_v1}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "restored 270 of 272 variables from" in result.stderr
