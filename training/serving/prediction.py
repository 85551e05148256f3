"""Batch prediction for classify_image.py: from a checkpoint or a SavedModel, over image
files (PNG, JPEG, DICOM) or TFRecords, one result per input in input order.

An input that cannot be read (missing, corrupt, not an image) becomes a result
with its reason; it never stops the run. Images are decoded as in training:
PNG/JPEG through TensorFlow's decoders, DICOM through ingestion's decoding.
"""

from __future__ import annotations

import dataclasses
import functools
import glob
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf

from console.text import printable
from datasets.input_pipeline.model_input import (
    InputSpec,
    model_input,
    planar_levels,
    prepare,
    preprocessing_still_due,
    raw_levels,
)
from datasets.records import example_codec
from datasets.records.dataset_spec import SPEC_FILE, read_spec
from datasets.records.planar_pixels import PLANAR
from datasets.records.record_images import UnreadableImage, load_frames
from dicom.decoding.display import FrameName
from dicom.decoding.intensity_window import IntensityWindow
from dicom.preprocessing.methods import PixelPreprocessing
from training.classification.probability_scaling import (
    ProbabilityScaling,
    logit_scale_and_shift,
    read_scaling,
)
from training.classification.thresholds import (
    LabelFindings,
    Thresholds,
    default_thresholds,
    read_thresholds,
)
from training.loop.checkpoints import checkpoint_step
from training.loop.model_loading import load_model
from training.loop.run_config import ModelOverrides, RunConfig, reconcile
from training.loop.task_heads import task_head
from training.serving.export import MODEL_INFO, calibration_beside, is_saved_model
from training.serving.provenance import read_provenance

if TYPE_CHECKING:
    from training.results.result_identity import ModelIdentity


@dataclass
class Prediction:
    source: str
    probabilities: np.ndarray | None = None
    error: str = ""


class Predictor:
    """Probabilities for float32 image batches in [0, 1] at the model's size."""

    def __init__(self, config: RunConfig, forward, step: int = 0,
                 thresholds: Thresholds | None = None,
                 scaling: ProbabilityScaling | None = None) -> None:
        self.config = config
        self._forward = forward
        """Images -> probabilities, with `scaling` applied to the logits in its graph."""
        self.step = step
        """The checkpoint's global step (0 for a SavedModel, which does not record it)."""
        self.scaling = scaling
        """The calibration eval fitted (calibration.json), which every probability has."""
        self.thresholds = thresholds
        """Multi-label: each label's threshold (eval's thresholds.json, else 0.5 each), on
        the scale of the probabilities given out (calibrated, when they are)."""
        if config.multilabel and thresholds is None:
            self.thresholds = default_thresholds(config.class_names)

    def calibration_note(self) -> str:
        """'probabilities calibrated by ...', or '' when they are the model's own."""
        return ("" if self.scaling is None
                else f"probabilities calibrated by {self.scaling.describe()}")

    def findings(self, probabilities: np.ndarray) -> tuple[str, ...]:
        """Multi-label: the labels at or above their thresholds."""
        return self.label_findings()(probabilities)

    def label_findings(self) -> LabelFindings:
        """`findings` as a picklable value (for writer processes)."""
        names = self.config.class_names
        thresholds = self.thresholds or default_thresholds(names)
        return LabelFindings(tuple(names), tuple(thresholds.for_labels(names)))

    def identity(self) -> ModelIdentity:
        """What made a result: net, step, a hash of the run config (training.results)."""
        from training.results.result_identity import ModelIdentity, config_hash

        made = dataclasses.asdict(self.config)
        if self.scaling is not None:  # other probabilities: other results
            made["calibration"] = self.scaling.to_dict()
        text = json.dumps(made, sort_keys=True, default=str)
        return ModelIdentity(self.config.model_name, self.step, config_hash(text),
                             self.scaling.short() if self.scaling else "")

    @classmethod
    def load(cls, path: str, overrides: ModelOverrides | None = None) -> Predictor:
        """The model at `path` (a SavedModel, a train_dir or a checkpoint prefix), with its
        thresholds and calibration; `overrides` as the command's flags give them."""
        overrides = overrides or ModelOverrides()
        if is_saved_model(path):
            with open(os.path.join(path, MODEL_INFO), encoding="utf-8") as handle:
                config = RunConfig(**json.load(handle))  # model_options/task kept by export
            # the export's own size and classes stand; the rest must agree with it
            config = reconcile(config, dataclasses.replace(
                overrides, image_size=None, class_names=None, labels_offset=0))
            signature = tf.saved_model.load(path).signatures["predict_images"]
            # an export applies the calibration in its graph and keeps its record beside it
            provenance = read_provenance(path)  # the step the export was made from
            return cls(config, lambda images: signature(images)["probabilities"].numpy(),
                       provenance.step if provenance else 0,
                       thresholds=read_thresholds(path) if config.multilabel else None,
                       scaling=read_scaling(path))
        loaded = load_model(path, overrides)
        model, config = loaded.model, loaded.config
        thresholds, scaling = calibration_beside(os.path.dirname(loaded.prefix), config)
        # The calibration on the logits, in the graph, as the export applies it: the same
        # probabilities from a checkpoint and from its SavedModel.
        scale, shift = logit_scale_and_shift(scaling, config.class_names)
        logit_scale, logit_shift = tf.constant(scale), tf.constant(shift)
        activation = task_head(config.task).activation
        forward = tf.function(lambda images: activation(
            tf.cast(model(images, training=False)["logits"], tf.float32) * logit_scale
            + logit_shift), autograph=False)
        return cls(config, lambda images: forward(images).numpy(),
                   checkpoint_step(loaded.prefix), thresholds, scaling)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return self._forward(tf.constant(images, tf.float32))


def to_model_input(data: bytes, image_format: str, spec: InputSpec, height: int = 0,
                   width: int = 0, stored_channels: int = 0) -> np.ndarray:
    """Record or file bytes -> float32 model input through the one input path
    (`model_input`): decode, any folder preprocessing due, channels, size or framing."""
    if image_format == PLANAR:
        levels, depth = planar_levels(tf.constant(data), height, width, stored_channels)
        return prepare(levels, depth, spec).numpy()
    if image_format == "raw":
        pixels = height * width * stored_channels
        bits = 16 if len(data) == 2 * pixels else 8
        levels, depth = raw_levels(tf.constant(data), height, width, stored_channels, bits)
        return prepare(levels, depth, spec).numpy()
    return _encoded_input(spec)(tf.constant(data)).numpy()


@functools.lru_cache(maxsize=8)
def _encoded_input(spec: InputSpec):
    """`model_input` for one spec, traced once (a graph per spec, not ops per image)."""
    return tf.function(functools.partial(model_input, spec=spec),
                       input_signature=[tf.TensorSpec([], tf.string)], autograph=False)


def read_image_list(path: str) -> list[str]:
    """The paths an image list names, one per line; blank lines and # comments skipped."""
    with open(path, encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip() and not line.startswith("#")]




def file_inputs(paths: list[str], config: RunConfig) -> Iterator[tuple[str, np.ndarray | str]]:
    """(name, model input or the reason there is none) per image file, in order; each
    frame of a multi-frame DICOM file is an input of its own."""
    spec = config.input_spec()  # files are raw: the recorded folder preprocessing is due
    window = IntensityWindow.from_dict(config.intensity_window)
    for path in paths:
        if not os.path.isfile(path):
            yield path, "missing file" if not os.path.exists(path) else "not a file"
            continue
        number = 0
        try:
            count, images = load_frames(path, window)
            for number, image in enumerate(images, 1):  # a multi-frame file: each frame
                name = FrameName(path, number) if count > 1 else path
                yield name, to_model_input(image.data, image.format, spec)
        except (UnreadableImage, tf.errors.InvalidArgumentError) as exc:
            name = FrameName(path, number) if number and count > 1 else path
            yield name, f"unreadable: {' '.join(str(exc).split())[:200]}"


def record_files(pattern: str) -> list[str]:
    """The TFRecord files a path or glob names; raises FileNotFoundError when none matches or one
    is missing."""
    files = sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]
    missing = [f for f in files if not os.path.exists(f)]
    if not files or missing:
        raise FileNotFoundError(f"no TFRecord file matches {pattern}")
    return files


def _records_preprocessing(file: str) -> PixelPreprocessing | None:
    """The folder preprocessing the records of `file` hold, from the dataset spec beside them
    (none found: raw pixels)."""
    folder = os.path.dirname(file) or "."
    if not os.path.exists(os.path.join(folder, SPEC_FILE)):
        return None
    return PixelPreprocessing.from_dict(read_spec(folder).pixel_preprocessing)


def _record_inputs(pattern: str, config: RunConfig) -> Iterator[tuple[str, np.ndarray | str]]:
    features = example_codec.image_parsing_spec()
    number = 0
    for file in record_files(pattern):
        due = preprocessing_still_due(config.folder_preprocessing, _records_preprocessing(file))
        spec = config.input_spec(due)
        try:
            for record in tf.data.TFRecordDataset(file):
                number += 1
                try:
                    example = tf.io.parse_single_example(record, features)
                    name = example[example_codec.ID].numpy().decode() or f"{file}#{number}"
                    yield name, to_model_input(
                        example[example_codec.ENCODED].numpy(),
                        example[example_codec.FORMAT].numpy().decode(), spec,
                        int(example[example_codec.HEIGHT]), int(example[example_codec.WIDTH]),
                        int(example[example_codec.CHANNELS]))
                except (tf.errors.InvalidArgumentError, ValueError) as exc:
                    yield f"{file}#{number}", f"unreadable record: {str(exc).split(chr(10))[0]}"
        except tf.errors.DataLossError as exc:
            yield f"{file}#{number + 1}", f"corrupt TFRecord file: {str(exc).splitlines()[0]}"


def predict(predictor: Predictor, inputs: Iterator[tuple[str, np.ndarray | str]],
            batch_size: int) -> Iterator[Prediction]:
    """Predictions in input order, batching the readable inputs."""
    pending: list[Prediction] = []
    images: list[np.ndarray] = []

    def flush() -> Iterator[Prediction]:
        if images:
            probabilities = predictor(np.stack(images))
            ready = iter(probabilities)
            for item in pending:
                if not item.error:
                    item.probabilities = next(ready)
            images.clear()
        yield from pending
        pending.clear()

    for source, value in inputs:
        if isinstance(value, str):
            pending.append(Prediction(source, error=value))
            continue
        pending.append(Prediction(source))
        images.append(value)
        if len(images) >= batch_size:
            yield from flush()
    yield from flush()


def stored_image_inputs(images: Iterable[tuple[str, bytes]],
                        config: RunConfig) -> Iterator[tuple[str, np.ndarray | str]]:
    """(name, stored PNG bytes) pairs (catalog rows) -> model inputs; the PNGs are raw
    pixels, so the recorded folder preprocessing is due."""
    spec = config.input_spec()
    for name, png in images:
        try:
            yield name, to_model_input(png, "png", spec)
        except (UnreadableImage, tf.errors.InvalidArgumentError) as exc:
            yield name, f"unreadable: {' '.join(str(exc).split())[:200]}"


def inputs_for(infile: str, tfrecord: bool,
               config: RunConfig) -> Iterator[tuple[str, np.ndarray | str]]:
    """(name, model input or error) pairs of --infile: a TFRecord file's examples, or the images a
    list names."""
    if tfrecord:
        return _record_inputs(infile, config)
    if not os.path.isfile(infile):
        raise FileNotFoundError(f"--infile {infile} does not exist")
    return file_inputs(read_image_list(infile), config)


HEADER = ("# input\tpredicted_class\tprobability\ttop_k (class:probability, best first); "
          "a line whose class is ERROR names why the input could not be classified")


def multilabel_header(thresholds: Thresholds) -> str:
    """The header of multi-label text output, saying which thresholds decided the findings."""
    chosen = (f"chosen by {thresholds.rule} on split {thresholds.split} at step {thresholds.step}"
              if thresholds.rule != "default" else
              "0.5 each: no thresholds.json beside the model (run eval_image_classifier)")
    return ("# input\tfindings (labels at or above their thresholds, '|'-joined; 'none' when "
            f"no label is)\tprobabilities (label:probability, every label); thresholds "
            f"{chosen}: " + ",".join(f"{name}:{'0.5' if value is None else f'{value:.4f}'}"
                                     for name, value in thresholds.values.items()))


def format_multilabel(prediction: Prediction, class_names: list[str],
                      findings: tuple[str, ...]) -> str:
    """A multi-label prediction as one tab-separated line: source, findings, every probability."""
    source = printable(prediction.source)
    if prediction.error:
        return f"{source}\tERROR\t{printable(prediction.error)}"
    assert prediction.probabilities is not None  # every prediction without an error has them
    listed = ",".join(f"{name}:{p:.4f}"
                      for name, p in zip(class_names, prediction.probabilities, strict=True))
    return f"{source}\t{'|'.join(findings) or 'none'}\t{listed}"


def format_prediction(prediction: Prediction, class_names: list[str], top_k: int) -> str:
    """A prediction as one tab-separated line: source and the top `top_k` classes with
    probabilities."""
    source = printable(prediction.source)  # a name with a newline or ESC stays one field
    if prediction.error:
        return f"{source}\tERROR\t\t{printable(prediction.error)}"
    probabilities = prediction.probabilities
    assert probabilities is not None  # every prediction without an error has them
    order = np.argsort(-probabilities)[:top_k]
    best = order[0]
    ranked = ",".join(f"{class_names[i]}:{probabilities[i]:.4f}" for i in order)
    return f"{source}\t{class_names[best]}\t{probabilities[best]:.4f}\t{ranked}"
