"""SavedModel export: encoded image bytes in, class probabilities and names out (for a
multi-label model: every label's sigmoid probability, and `findings`, whether each
reaches the threshold eval chose, also written beside it as thresholds.json).

Two signatures: `serving_default` takes a batch of raw PNG (8/16-bit) or JPEG
bytes and prepares them through the one input path (`model_input`: decode, the
folder preprocessing the model was trained on, channels, TF-Slim's framing);
`predict_images` takes float32 images already so prepared (classify_image.py
prepares DICOM and records with the same function in Python). The net's
value-range preprocessing is inside the model, so both apply it. `medcv_model.json`
beside the SavedModel records the net, size, channels and class names. When eval
fitted a calibration (`calibration.json` beside the checkpoint), the graph applies
it to the logits, its thresholds are moved onto the calibrated scale, and the
record is copied beside the SavedModel, which classify_image reads to say so.
Written to a temporary directory and renamed, so a half export never exists.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil

import keras
import tensorflow as tf

from datasets.input_pipeline.model_input import model_input
from datasets.records.dataset_spec import DatasetSpec
from datasets.records.tasks import record_task
from training.classification.probability_scaling import (
    ProbabilityScaling,
    logit_scale_and_shift,
    read_scaling,
    write_scaling,
)
from training.classification.thresholds import (
    Thresholds,
    default_thresholds,
    read_thresholds,
    write_thresholds,
)
from training.loop.model_loading import load_model
from training.loop.run_config import MODEL_INFO, ModelOverrides, RunConfig
from training.loop.task_heads import task_head
from training.serving.provenance import provenance_of, write_provenance

log = logging.getLogger(__name__)


class ServingModule(tf.Module):
    def __init__(self, model: keras.Model, config: RunConfig,
                 thresholds: list[float] | None = None,
                 scaling: ProbabilityScaling | None = None) -> None:
        super().__init__()
        self.model = model
        self.multilabel = config.multilabel
        self.thresholds = tf.constant(thresholds or [0.5] * config.num_classes, tf.float32)
        # calibrated logits = scale * logits + shift (1 and 0: the model's own)
        scale, shift = logit_scale_and_shift(scaling, config.class_names)
        self.logit_scale = tf.constant(scale, tf.float32)
        self.logit_shift = tf.constant(shift, tf.float32)
        self.size = config.image_size
        self.channels = config.channels
        self.input_spec = config.input_spec()  # raw images: the folder preprocessing is due
        self.class_names = tf.constant(config.class_names)
        self.activation = task_head(config.task).activation
        self.serve_encoded = tf.function(
            self._serve_encoded, input_signature=[tf.TensorSpec([None], tf.string)])
        self.predict_images = tf.function(
            self._predict_images,
            input_signature=[tf.TensorSpec([None, self.size, self.size, self.channels],
                                           tf.float32)])

    def _outputs(self, images):
        logits = tf.cast(self.model(images, training=False)["logits"], tf.float32)
        logits = logits * self.logit_scale + self.logit_shift
        probabilities = self.activation(logits)
        if self.multilabel:  # every label's probability, and which reach their thresholds
            return {"probabilities": probabilities,
                    "findings": probabilities >= self.thresholds}
        class_ids = tf.argmax(probabilities, axis=-1, output_type=tf.int32)  # per pixel: masks
        return {"probabilities": probabilities, "class_ids": class_ids,
                "classes": tf.gather(self.class_names, class_ids)}

    def _decode(self, data):
        return tf.ensure_shape(model_input(data, self.input_spec),
                               [self.size, self.size, self.channels])

    def _serve_encoded(self, images):
        decoded = tf.map_fn(self._decode, images,
                            fn_output_signature=tf.TensorSpec(
                                [self.size, self.size, self.channels], tf.float32))
        return self._outputs(decoded)

    def _predict_images(self, images):
        return self._outputs(images)


def calibration_beside(train_dir: str, config: RunConfig
                       ) -> tuple[Thresholds | None, ProbabilityScaling | None]:
    """What eval left beside a checkpoint for its outputs: a multi-label model's
    thresholds (None when eval chose none) moved onto the calibrated scale, and the
    calibration (None for a dense task, or when eval fitted none). The export bakes both
    into its graph; the Predictor applies them to a checkpoint the same way."""
    thresholds = read_thresholds(train_dir) if config.multilabel else None
    scaling = None if record_task(config.task).dense else read_scaling(train_dir)
    if thresholds is not None and scaling is not None:  # onto the calibrated scale
        thresholds = dataclasses.replace(
            thresholds, values=scaling.calibrated_thresholds(thresholds.values))
    return thresholds, scaling


def export_saved_model(
    checkpoint_path: str,
    export_dir: str,
    overrides: ModelOverrides | None = None,
    spec: DatasetSpec | None = None,
    use_moving_averages: bool = True,
) -> RunConfig:
    """The checkpoint as a SavedModel in `export_dir` (replaced whole, atomically), with its
    thresholds, calibration and provenance beside it; `spec` gives the classes where the
    checkpoint records none."""
    overrides = overrides or ModelOverrides()
    if spec is not None:
        overrides = dataclasses.replace(overrides, num_classes=spec.num_classes,
                                        class_names=spec.class_names)
    loaded = load_model(checkpoint_path, overrides, use_moving_averages=use_moving_averages)
    config = loaded.config
    thresholds, scaling = calibration_beside(os.path.dirname(loaded.prefix), config)
    if config.multilabel and thresholds is None:
        log.warning("no thresholds.json beside %s: every finding's threshold is 0.5; run "
                    "eval_image_classifier first to choose them on the validation split",
                    loaded.prefix)
        thresholds = default_thresholds(config.class_names)
    module = ServingModule(loaded.model, config,
                           thresholds.for_labels(config.class_names) if thresholds else None,
                           scaling)
    temporary = export_dir.rstrip("/") + ".partial"
    shutil.rmtree(temporary, ignore_errors=True)
    tf.saved_model.save(module, temporary, signatures={
        "serving_default": module.serve_encoded,
        "predict_images": module.predict_images,
    })
    with open(os.path.join(temporary, MODEL_INFO), "w", encoding="utf-8") as handle:
        json.dump({"model_name": config.model_name, "image_size": config.image_size,
                   "channels": config.channels, "class_names": config.class_names,
                   "task": config.task, "model_options": config.model_options,
                   "preprocessing_name": config.preprocessing,
                   "pixel_preprocessing": config.pixel_preprocessing,
                   "max_image_size": config.max_image_size,
                   "label_policy": config.label_policy}, handle,
                  indent=2)
    write_provenance(provenance_of(loaded.prefix, use_moving_averages), temporary)
    if thresholds is not None:
        write_thresholds(thresholds, temporary)
    if scaling is not None:  # applied in the graph; recorded so its users can say so
        write_scaling(scaling, temporary)
        log.info("the export applies %s", scaling.describe())
    if os.path.exists(export_dir):
        shutil.rmtree(export_dir)
    os.replace(temporary, export_dir)
    return config


def is_saved_model(path: str) -> bool:
    """Whether `path` is a SavedModel folder."""
    return os.path.isdir(path) and os.path.exists(os.path.join(path, "saved_model.pb"))
