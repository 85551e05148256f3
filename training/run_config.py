"""What a train_dir was trained with, so eval and classify need not be told again.

`train_dir/medcv_train.json` records the net, input size, channels and class
names. Eval and classify read it from the checkpoint's directory; flags given
on their command line must agree with it (a mismatch is an error that says
which), and TF-Slim-style explicit flags still work where it is absent.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

from dicom.atomic_file import write_atomic

RUN_CONFIG = "medcv_train.json"


@dataclass
class RunConfig:
    model_name: str
    image_size: int
    channels: int
    class_names: list[str]
    dataset_dir: str = ""
    task: str = "classification"
    model_options: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def write_run_config(config: RunConfig, train_dir: str) -> None:
    write_atomic(os.path.join(train_dir, RUN_CONFIG),
                 (json.dumps(asdict(config), indent=2) + "\n").encode())


def find_run_config(checkpoint_path: str) -> RunConfig | None:
    directory = checkpoint_path if os.path.isdir(checkpoint_path) else os.path.dirname(
        checkpoint_path)
    path = os.path.join(directory or ".", RUN_CONFIG)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return RunConfig(**json.load(handle))


def reconcile(config: RunConfig | None, model_name: str | None, num_classes: int | None,
              image_size: int | None, channels: int | None,
              class_names: list[str] | None) -> RunConfig:
    """Merge the recorded config with explicit flags; disagreement is an error."""
    if config is None:
        if not model_name:
            raise ValueError("--model_name is required (the checkpoint's directory has no "
                             f"{RUN_CONFIG} recording it)")
        if not class_names and not num_classes:
            raise ValueError("--num_classes or --dataset_dir is required: the checkpoint's "
                             f"directory has no {RUN_CONFIG} naming the classes")
        from nets.nets_factory import get_net

        names = class_names or [str(i) for i in range(num_classes or 0)]
        net = get_net(model_name)
        return RunConfig(model_name, image_size or net.default_size, channels or 3, names,
                         task=net.task)
    for flag, given, recorded in (("model_name", model_name, config.model_name),
                                  ("num_classes", num_classes, config.num_classes),
                                  ("channels", channels, config.channels)):
        if given and given != recorded:
            raise ValueError(f"--{flag}={given} but the checkpoint was trained with {recorded}")
    if image_size:
        config.image_size = image_size
    return config
