"""train / eval / classify / export / dicom_main end to end on a tiny dataset, as a user
runs them (subprocesses from the repository root)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from datasets.records.conversion import ConversionSettings, convert
from tests.support.cli import run_module
from tests.support.dicom_files import image_dataset, to_bytes
from tests.support.folders import classification_folder
from tests.support.model_cache import private_copy, shared_model
from tests.support.tiny_models import BODY_PART_CLASSIFIER, BODY_PARTS, TINY_NET
from training.loop.checkpoints import checkpoint_key

pytestmark = pytest.mark.slow  # end-to-end: `pytest -m "not slow"` skips it

NET = list(TINY_NET)
CLASSES = set(BODY_PARTS)


def _records(root, counts) -> str:
    classification_folder(str(root / "in"), counts, size=32, patients=6)
    convert(ConversionSettings("dicom", str(root / "in"), str(root / "out"), "dicom",
                               need_split="tvt_split", validation_size=0.2, test_size=0.2,
                               progress=False))
    return str(root / "out")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, str]:
    """The run's shared body-part classifier (6 steps), in a copy this module may train
    on and evaluate into (eval saves calibration.json beside the checkpoint)."""
    model = shared_model(BODY_PART_CLASSIFIER, tmp_path_factory)
    train_dir = private_copy(model, str(tmp_path_factory.mktemp("train")))
    return {"root": model.root, "records": model.records, "train_dir": train_dir}


def _tensor(prefix: str, path: str) -> np.ndarray:
    return tf.train.load_checkpoint(prefix).get_tensor(checkpoint_key(path))


def test_training_writes_checkpoints_summaries_and_resumes(trained):
    train_dir = trained["train_dir"]
    names = os.listdir(train_dir)
    assert "model.ckpt-6.index" in names and "medcv_train.json" in names
    assert any(n.startswith("events.out.tfevents") for n in names)
    result = run_module("train_image_classifier", f"--train_dir={train_dir}",
                        f"--dataset_dir={trained['records']}", "--max_number_of_steps=8",
                        f"--checkpoint_path={train_dir}/model.ckpt-6", *NET)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resuming from" in result.stderr and "model.ckpt-6 at step 6" in result.stderr
    assert "--checkpoint_path" in result.stderr and "is ignored" in result.stderr
    assert "trained resnet_v1_18 to step 8" in result.stdout
    assert os.path.exists(os.path.join(train_dir, "model.ckpt-8.index"))


def test_fine_tuning_restores_all_but_the_excluded_scopes_and_freezes(trained, tmp_path):
    records = _records(tmp_path, {"X": 10, "Y": 10})  # two classes: the logits differ in shape
    base = os.path.join(trained["train_dir"], "model.ckpt-6")
    common = [f"--dataset_dir={records}", f"--checkpoint_path={base}",
              "--max_number_of_steps=3", *NET]
    refused = run_module("train_image_classifier", f"--train_dir={tmp_path / 'bad'}", *common)
    assert refused.returncode == 2
    last = refused.stderr.strip().splitlines()[-1]
    assert "resnet_v1_18.logits/kernel" in last
    assert "--checkpoint_exclude_scopes" in last
    tuned_dir = tmp_path / "tuned"
    result = run_module("train_image_classifier", f"--train_dir={tuned_dir}", *common,
                        "--checkpoint_exclude_scopes=resnet_v1_18/logits",
                        "--trainable_scopes=resnet_v1_18/logits")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "restored" in result.stderr and "(2 excluded)" in result.stderr
    tuned = str(tuned_dir / "model.ckpt-3")
    reader = tf.train.load_checkpoint(base)
    checked = 0
    for key in reader.get_variable_to_shape_map():
        if not key.startswith("model_weights/") or "logits" in key:
            continue
        path = key[len("model_weights/"):].split("/.ATTRIBUTES")[0]
        path = path.replace(".S", "/").replace("..", ".")
        assert np.array_equal(_tensor(base, path), _tensor(tuned, path)), path
        checked += 1
    assert checked == 100  # all of ResNet-18 but the logits' kernel and bias
    assert _tensor(tuned, "resnet_v1_18.logits/kernel").shape[-1] == 2


def test_eval_accepts_a_prefix_or_a_directory(trained, tmp_path):
    for path in (trained["train_dir"], os.path.join(trained["train_dir"], "model.ckpt-6")):
        eval_dir = tmp_path / os.path.basename(path)
        result = run_module("eval_image_classifier", "--alsologtostderr",
                            f"--checkpoint_path={path}", f"--dataset_dir={trained['records']}",
                            "--dataset_split_name=test", f"--eval_dir={eval_dir}")
        assert result.returncode == 0, result.stderr[-3000:]
        assert "accuracy" in result.stdout and "true \\ predicted" in result.stdout
        metrics = json.loads((eval_dir / "metrics.json").read_text())
        assert metrics["num_examples"] == sum(map(sum, metrics["confusion_matrix"]))
        assert set(metrics["per_class"]) == CLASSES
        assert (eval_dir / "confusion_matrix.png").stat().st_size > 0
    missing = run_module("eval_image_classifier", f"--checkpoint_path={tmp_path}/nothing",
                         f"--dataset_dir={trained['records']}")
    assert missing.returncode == 2 and "not found" in missing.stderr.splitlines()[-1]


def test_classify_files_with_a_bad_line_and_the_saved_model_agrees(trained, tmp_path):
    source = os.path.join(trained["root"], "in", "images")
    good = [os.path.join(source, n) for n in sorted(os.listdir(source))[:3]]
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    dicom = tmp_path / "image.dcm"
    pixels = (np.arange(32 * 32, dtype=np.uint16).reshape(32, 32) * 4)
    dicom.write_bytes(to_bytes(image_dataset(pixels, bits_stored=12)))
    listing = tmp_path / "input.txt"
    listing.write_text("\n".join([good[0], str(tmp_path / "missing.png"), str(corrupt),
                                  good[1], str(dicom), good[2]]) + "\n")
    outputs = {}
    export_dir = tmp_path / "export"
    exported = run_module("export_model", f"--checkpoint_path={trained['train_dir']}",
                          f"--export_dir={export_dir}")
    assert exported.returncode == 0, exported.stderr[-3000:]
    with open(export_dir / "provenance.json") as handle:  # what the export was made from
        provenance = json.load(handle)
    latest = tf.train.latest_checkpoint(trained["train_dir"])
    assert provenance["checkpoint"] == os.path.abspath(latest)
    assert provenance["step"] == int(latest.rsplit("-", 1)[1]) > 0
    assert len(provenance["run_config_sha256"]) == 64
    for name, checkpoint in (("ckpt", trained["train_dir"]), ("saved", str(export_dir))):
        outfile = tmp_path / f"{name}.txt"
        result = run_module("classify_image", "--num_classes=3", f"--infile={listing}",
                            "--tfrecord=False", f"--outfile={outfile}",
                            f"--checkpoint_path={checkpoint}", "--batch_size=2")
        assert result.returncode == 0, result.stderr[-3000:]
        assert "classified 4 input(s), 2 unreadable" in result.stderr
        outputs[name] = outfile.read_text().splitlines()
    lines = outputs["ckpt"]
    assert lines[0].startswith("# input")
    rows = [line.split("\t") for line in lines[1:]]
    assert [r[0] for r in rows] == listing.read_text().split()
    assert rows[1][1:] == ["ERROR", "", "missing file"]
    assert rows[2][1] == "ERROR" and "corrupt PNG" in rows[2][3]
    for row in (rows[0], rows[3], rows[4], rows[5]):
        assert row[1] in CLASSES
        top = dict(item.split(":") for item in row[3].split(","))
        assert set(top) == CLASSES
        assert sum(float(v) for v in top.values()) == pytest.approx(1.0, abs=2e-4)
    assert outputs["saved"] == outputs["ckpt"]


def test_classify_records_and_a_wrong_class_count(trained, tmp_path):
    pattern = os.path.join(trained["records"], "dicom_test-*.tfrecord")
    outfile = tmp_path / "records.txt"
    result = run_module("classify_image", f"--infile={pattern}", "--tfrecord=True",
                        f"--outfile={outfile}", f"--checkpoint_path={trained['train_dir']}")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = outfile.read_text().splitlines()[1:]
    assert rows and all(r.split("\t")[1] in CLASSES for r in rows)
    wrong = run_module("classify_image", f"--infile={pattern}", "--tfrecord=True",
                       "--num_classes=7", f"--checkpoint_path={trained['train_dir']}")
    assert wrong.returncode == 2
    assert "--num_classes=7 but the checkpoint was trained with 3" in wrong.stderr


def test_dicom_main_with_the_seed_flags(trained, tmp_path):
    result = run_module("dicom_main", f"-dd={trained['records']}", f"-md={tmp_path / 'resnet'}",
                        "-te=1", "-ebe=1", "-bs=8", "-rv=2", "-rs=18", "--multi_gpu=False",
                        "--image_size=32", "-mts=2", "--log_every_n_steps=1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resnet_v2_18: step 2" in result.stdout and "eval accuracy" in result.stdout
    assert (tmp_path / "resnet" / "eval_validation" / "metrics.json").exists()


def test_mixed_precision_on_two_replicas(trained, tmp_path):
    result = run_module("train_image_classifier", f"--train_dir={tmp_path / 'mp'}",
                        f"--dataset_dir={trained['records']}", "--max_number_of_steps=2",
                        "--mixed_precision", "--num_clones=2", *NET)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "MirroredStrategy" in result.stderr
    assert "trained resnet_v1_18 to step 2" in result.stdout


def test_missing_dataset_dir_is_one_line(tmp_path):
    result = run_module("train_image_classifier", f"--train_dir={tmp_path}",
                        "--model_name=mobilenet_v2")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: --dataset_dir is required")
