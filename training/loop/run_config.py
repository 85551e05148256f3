"""What a train_dir was trained with, so eval and classify need not be told again.

`train_dir/medcv_train.json` records the net, input size, channels, class
names and TF-Slim preprocessing name. Eval and classify read it from the
checkpoint's directory; flags given on their command line must agree with it
(a mismatch is an error that says which), and TF-Slim-style explicit flags
still work where it is absent.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, cast

from datasets.records.tasks import CLASSIFICATION, record_task
from files.atomic_file import write_atomic

if TYPE_CHECKING:  # imported where used: run configs are read without TensorFlow
    from datasets.input_pipeline.model_input import InputSpec
    from dicom.preprocessing.methods import PixelPreprocessing

RUN_CONFIG = "medcv_train.json"
MODEL_INFO = "medcv_model.json"
"""An export's run config, beside its saved_model.pb."""
RECORDED = object()
"""`RunConfig.input_spec`'s default: apply the recorded folder preprocessing."""


@dataclass
class RunConfig:
    model_name: str
    image_size: int
    channels: int
    class_names: list[str]
    dataset_dir: str = ""
    task: str = CLASSIFICATION
    model_options: dict = field(default_factory=dict)
    preprocessing_name: str = ""
    """TF-Slim's preprocessing (`inception`, `vgg`); empty in configs written before it was
    recorded, which means the net's default."""
    pixel_preprocessing: dict | None = None
    """{method, value} of preprocess_image on the training folder (from the dataset spec);
    applied to raw inputs by classify, eval and the SavedModel."""
    max_image_size: int | None = None
    """The records' --max_image_size (from the dataset spec): larger inputs are scaled down
    to it the same way before the net's own resize."""
    label_policy: dict | None = None
    """Multi-label: {uncertain, blank} of the records trained on (from the dataset spec)."""
    pos_weight: list[float] | None = None
    """Multi-label: the positive-term weight of each label (--pos_weight), if any."""
    intensity_window: dict | None = None
    """The records' CT window ({center, width, name}, from the dataset spec): DICOM inputs
    are displayed through it, as the records' DICOM inputs were."""

    @property
    def multilabel(self) -> bool:
        """Whether the model's task is multi-label."""
        return record_task(self.task).multi_label

    @property
    def num_classes(self) -> int:
        """How many classes (or labels) the model predicts."""
        return len(self.class_names)

    @property
    def folder_preprocessing(self) -> PixelPreprocessing | None:
        """The recorded PixelPreprocessing, or None (trained on raw pixels)."""
        from dicom.preprocessing.methods import PixelPreprocessing

        return PixelPreprocessing.from_dict(self.pixel_preprocessing)

    def input_spec(self, due: PixelPreprocessing | object | None = RECORDED) -> InputSpec:
        """How inputs become this model's input; `due` is the folder preprocessing still to
        apply: by default the recorded one (raw inputs), None for records that hold it."""
        from datasets.input_pipeline.model_input import InputSpec

        segmentation = record_task(self.task).dense
        folder = (self.folder_preprocessing if due is RECORDED
                  else cast("PixelPreprocessing | None", due))
        return InputSpec(
            self.channels, None if segmentation else (self.image_size, self.image_size),
            None if segmentation else self.preprocessing,
            folder, self.max_image_size)

    @property
    def preprocessing(self) -> str:
        """The preprocessing recorded, else the net's default."""
        from nets.nets_factory import get_net

        return self.preprocessing_name or get_net(self.model_name).preprocessing


def default_class_names(num_classes: int, labels_offset: int = 0) -> list[str]:
    """Class indices as names; the first `labels_offset` outputs are TF-Slim's background."""
    return [("background" if i < labels_offset else str(i - labels_offset))
            for i in range(num_classes)]


def read_labels_file(path: str, num_classes: int) -> list[str]:
    """Class names from TF-Slim's `labels.txt` (`0:background`, `1:tench`, ...) or one name
    per line; outputs the file does not name keep their index."""
    names = [str(i) for i in range(num_classes)]
    with open(path, encoding="utf-8") as handle:
        lines = [line.rstrip("\n") for line in handle if line.strip()]
    for number, line in enumerate(lines):
        index, sep, name = line.partition(":")
        if sep and index.strip().isdigit():
            number, line = int(index), name
        if number >= num_classes:
            raise ValueError(f"{path} names class {number} but the model has {num_classes} "
                             "outputs")
        names[number] = line.strip()
    return names


def write_run_config(config: RunConfig, train_dir: str) -> None:
    """Writes the run config atomically into `train_dir`."""
    write_atomic(os.path.join(train_dir, RUN_CONFIG),
                 (json.dumps(asdict(config), indent=2) + "\n").encode())


def find_run_config(checkpoint_path: str) -> RunConfig | None:
    """The run config beside a checkpoint (or in its folder); None when there is none, as for a TF-
    Slim file."""
    directory = checkpoint_path if os.path.isdir(checkpoint_path) else os.path.dirname(
        checkpoint_path)
    path = os.path.join(directory or ".", RUN_CONFIG)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return RunConfig(**json.load(handle))


@dataclass(frozen=True)
class ModelOverrides:
    """What a command's flags say of the model it loads. Where the checkpoint records its
    run config, a value given must agree with it (image_size alone may differ); where it
    records none (a TF-Slim file), these say what the net is. One value for every loader:
    `load_model`, `Predictor.load`, `export_saved_model`."""

    model_name: str | None = None
    num_classes: int | None = None
    image_size: int | None = None
    channels: int | None = None
    class_names: list[str] | None = None
    preprocessing_name: str | None = None
    labels_offset: int = 0
    """TF-Slim's background class: 1 for the ImageNet zoo's 1001 outputs."""
    labels_file: str | None = None
    """Class names, one a line, instead of the recorded ones."""
    moving_average_decay: float | None = None
    """TF-Slim checkpoints: restore the ExponentialMovingAverage shadows of this decay."""


def reconcile(config: RunConfig | None, overrides: ModelOverrides) -> RunConfig:
    """Merge the recorded config with explicit flags; disagreement is an error."""
    model_name, num_classes = overrides.model_name, overrides.num_classes
    image_size, channels = overrides.image_size, overrides.channels
    class_names, preprocessing_name = overrides.class_names, overrides.preprocessing_name
    labels_offset = overrides.labels_offset
    if config is None:
        if not model_name:
            raise ValueError("--model_name is required (the checkpoint's directory has no "
                             f"{RUN_CONFIG} recording it)")
        if not class_names and not num_classes:
            raise ValueError("--num_classes or --dataset_dir is required: the checkpoint's "
                             f"directory has no {RUN_CONFIG} naming the classes")
        from nets.nets_factory import get_net

        names = class_names or default_class_names(num_classes or 0, labels_offset)
        net = get_net(model_name)
        return RunConfig(model_name, image_size or net.default_size, channels or 3, names,
                         task=net.task, preprocessing_name=preprocessing_name or "")
    for flag, given, recorded in (("model_name", model_name, config.model_name),
                                  ("num_classes", num_classes, config.num_classes),
                                  ("channels", channels, config.channels),
                                  ("preprocessing_name", preprocessing_name,
                                   config.preprocessing)):
        if given and given != recorded:
            raise ValueError(f"--{flag}={given} but the checkpoint was trained with {recorded}")
    if image_size:
        config.image_size = image_size
    return config
