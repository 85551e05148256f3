"""The recipes of models several test modules share (tests/support/model_cache.py)."""

from __future__ import annotations

import os

from datasets.records.conversion import ConversionSettings, convert
from tests.support.folders import classification_folder
from tests.support.model_cache import ModelRecipe

#: The small CPU net at 32 px, as the end-to-end tests train it: ResNet-18 starts a run in
#: about 4 s here, MobileNet-v2 (0.35), with three times the layers, in about 10 s.
TINY_NET = ("--model_name=resnet_v1_18", "--train_image_size=32", "--batch_size=8",
            "--log_every_n_steps=2", "--optimizer=adam", "--opt_epsilon=1e-7",
            "--learning_rate=0.01")
BODY_PARTS = {"CHEST": 12, "ABDOMEN": 12, "MYSTERY": 12}


def body_part_records(directory: str) -> None:
    """`directory/in`: 36 32-px images of three body parts (MYSTERY has no standard
    code) from 6 patients; `directory/records`: them converted with a patient-grouped
    train / validation / test split."""
    source = os.path.join(directory, "in")
    classification_folder(source, BODY_PARTS, size=32, patients=6)
    convert(ConversionSettings("dicom", source, os.path.join(directory, "records"), "dicom",
                               need_split="tvt_split", validation_size=0.2, test_size=0.2,
                               progress=False))


#: A three-class body-part classifier trained 6 steps: train / eval / classify / export,
#: the DICOM results and the inference node all run it.
BODY_PART_CLASSIFIER = ModelRecipe("body_part_classifier", body_part_records,
                                   (*TINY_NET, "--dataset_name=dicom", "--max_number_of_steps=6"))


def cardiac_records(directory: str) -> None:
    """`directory/raw`: synthetic cardiac MR series of 3 patients, 4 slices each, with
    contours (`raw/dicoms/<patient>/*.dcm`); `directory/records`: their masks converted."""
    from dicom.synthetic.cardiac_phantoms import CardiacSpec, synthesize_cardiac
    from tests.support.cli import run_module

    raw, masks = os.path.join(directory, "raw"), os.path.join(directory, "masks")
    synthesize_cardiac(raw, CardiacSpec(num_patients=3, slices_per_patient=4, size=32,
                                        defects=False))
    result = run_module("dicom.contours", f"--data_dir={raw}", f"--output_dir={masks}")
    assert result.returncode == 0, result.stderr[-3000:]
    convert(ConversionSettings("segmentation", masks, os.path.join(directory, "records"),
                               "cardiac", progress=False))


#: A small UNet on the cardiac masks, trained 2 steps: the DICOM results' SEGs and the
#: node's SEG route run it.
CARDIAC_UNET = ModelRecipe("cardiac_unet", cardiac_records, (
    "--model_name=unet", "--model_options=depth=2,base_filters=8", "--batch_size=4",
    "--train_image_size=32", "--optimizer=adam", "--opt_epsilon=1e-7", "--learning_rate=0.01",
    "--max_number_of_steps=2"))
