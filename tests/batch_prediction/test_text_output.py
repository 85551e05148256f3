"""classify_image's text output as result writers: every record task's kind of result has
one, an unreadable input is an ERROR line, a segmentation's masks land as PNGs, and an
unknown kind or a missing --output_dir is one line."""

from __future__ import annotations

import io

import numpy as np
import pytest

from batch_prediction.request import ClassifyRequest
from batch_prediction.text_output import (
    TEXT_OUTPUTS,
    MaskFiles,
    PredictionText,
    open_text_output,
    unreadable,
)
from datasets.records.tasks import TASKS
from files.png_codec import read_image
from training.loop.run_config import RunConfig
from training.results.result_writers import ModelOutput
from training.serving.prediction import Predictor


def _predictor(task: str = "classification") -> Predictor:
    config = RunConfig("resnet_v1_18", 8, 1, ["CHEST", "HAND", "KNEE"], task=task)
    return Predictor(config, lambda images: np.zeros((len(images), 3), np.float32))


def test_every_task_s_kind_of_result_has_a_text_output():
    assert {task.result_kind for task in TASKS.values()} <= set(TEXT_OUTPUTS)
    with pytest.raises(ValueError, match=r"no text output for 'pmap': known are seg, sr"):
        open_text_output("pmap", io.StringIO(), ClassifyRequest("x"), _predictor())


def test_classifier_lines_in_input_order_with_an_error_line_and_a_summary():
    out = io.StringIO()
    text = PredictionText(out, ClassifyRequest("x", top_k=2, outfile="out.txt"), _predictor())
    text.write(ModelOutput("a.png", np.array([0.1, 0.7, 0.2], np.float32)))
    text.write(unreadable("b.png", "corrupt PNG"))
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("# input\tpredicted_class")
    assert lines[1:] == ["a.png\tHAND\t0.7000\tHAND:0.7000,KNEE:0.2000",
                         "b.png\tERROR\t\tcorrupt PNG"]
    assert text.finish() == "classified 1 input(s), 1 unreadable; results in out.txt"


def test_masks_and_overlays_are_written_and_a_missing_output_dir_is_one_line(tmp_path):
    request = ClassifyRequest("x", output_dir=str(tmp_path / "masks"))
    out = io.StringIO()
    masks = MaskFiles(out, request, _predictor("segmentation"))
    mask = np.zeros((4, 4), np.uint8)
    mask[:2] = 2
    masks.write(ModelOutput("dir/scan.dcm", np.zeros((4, 4, 3)), mask=mask,
                            image=np.full((4, 4, 1), 0.5, np.float32)))
    masks.write(unreadable("dir/bad.dcm", "not DICOM"))
    _, line, error = out.getvalue().splitlines()
    path = str(tmp_path / "masks" / "scan_mask.png")
    assert line == f"dir/scan.dcm\t{path}\tCHEST:0.5000,HAND:0.0000,KNEE:0.5000"
    assert np.array_equal(read_image(path).squeeze(), mask)
    assert error == "dir/bad.dcm\tERROR\tnot DICOM"
    assert masks.finish().startswith("segmented 1 input(s), 1 unreadable; masks and overlays")
    with pytest.raises(ValueError, match="--output_dir is required for a segmentation model"):
        MaskFiles.check(ClassifyRequest("x"))
