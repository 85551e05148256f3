"""`--model_name` -> a Keras model: the one place a net is registered.

TF-Slim kept `networks_map` and `arg_scopes_map` (and the preprocessing map)
as separate dicts that drifted apart; here each name has one `NetSpec` holding
its builder, default image size, minimum size and TF-Slim scope, and
`register()` is how a new net joins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import keras

from nets import inception_resnet_v2, inception_v3, inception_v4, mobilenet_v2, resnet, unet


@dataclass(frozen=True)
class NetSpec:
    name: str
    builder: Callable[..., keras.Model]
    """builder(num_classes=, input_shape=, preprocessing=) -> model with outputs
    {'logits'[, 'aux_logits']}."""
    default_size: int
    min_size: int
    scope: str
    task: str = "classification"
    """The record task it serves, by its name in datasets.records.tasks (where a task
    declares what it is: a net only names it)."""
    preprocessing: str = "inception"
    """TF-Slim's preprocessing_factory default for the net (`vgg` for resnet_v1)."""
    logits: str = ""
    """TF-Slim name of the logits layer: its weights' last axis is the class count."""
    stem: tuple[str, int] = ("", 0)
    """TF-Slim name of the first convolution and its filters, which tell apart nets
    sharing a scope (MobileNet-v2 at depth 1.0 and 0.35)."""
    zoo_classes: int = 1001
    """Classes of TF-Slim's published checkpoint (1001: class 0 is background)."""

    @property
    def has_aux_logits(self) -> bool:
        """Whether the net has TF-Slim's auxiliary classifier (the Inception family)."""
        return self.scope.startswith("Inception")


_REGISTRY: dict[str, NetSpec] = {}


def register(spec: NetSpec) -> NetSpec:
    """Add `spec` under its name; a ValueError when the name is taken."""
    if spec.name in _REGISTRY:
        raise ValueError(f"a net named {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


for _version in (1, 2):
    for _depth in resnet.UNITS:
        _scope = f"resnet_v{_version}_{_depth}"
        register(NetSpec(
            _scope, partial(resnet.build_resnet, _version, _depth), 224, resnet.MIN_SIZE, _scope,
            preprocessing="vgg" if _version == 1 else "inception",
            logits=f"{_scope}/logits", stem=(f"{_scope}/conv1/weights", 64),
            zoo_classes=1000 if _version == 1 else 1001,
        ))
register(NetSpec("inception_v3", inception_v3.build_inception_v3, 299, inception_v3.MIN_SIZE,
                 inception_v3.SCOPE, logits="InceptionV3/Logits/Conv2d_1c_1x1",
                 stem=("InceptionV3/Conv2d_1a_3x3/weights", 32)))
register(NetSpec("inception_v4", inception_v4.build_inception_v4, 299, inception_v4.MIN_SIZE,
                 inception_v4.SCOPE, logits="InceptionV4/Logits/Logits",
                 stem=("InceptionV4/Conv2d_1a_3x3/weights", 32)))
register(NetSpec("inception_resnet_v2", inception_resnet_v2.build_inception_resnet_v2, 299,
                 inception_resnet_v2.MIN_SIZE, inception_resnet_v2.SCOPE,
                 logits="InceptionResnetV2/Logits/Logits",
                 stem=("InceptionResnetV2/Conv2d_1a_3x3/weights", 32)))
register(NetSpec("mobilenet_v2", mobilenet_v2.build_mobilenet_v2, 224, mobilenet_v2.MIN_SIZE,
                 mobilenet_v2.SCOPE, logits="MobilenetV2/Logits/Conv2d_1c_1x1",
                 stem=("MobilenetV2/Conv/weights", 32)))
register(NetSpec("mobilenet_v2_035", partial(mobilenet_v2.build_mobilenet_v2,
                                             depth_multiplier=0.35),
                 224, mobilenet_v2.MIN_SIZE, mobilenet_v2.SCOPE,
                 logits="MobilenetV2/Logits/Conv2d_1c_1x1", stem=("MobilenetV2/Conv/weights", 16)))

register(NetSpec("unet", unet.build_unet, 128, 16, "UNet", task="segmentation"))
register(NetSpec("unet_plus_plus", unet.build_unet_plus_plus, 128, 16, "UNetPlusPlus",
                 task="segmentation"))


def identify_slim_checkpoint(shapes: dict[str, list[int]]) -> tuple[str, int] | None:
    """(net name, classes) of a TF-Slim checkpoint's variable shapes, or None."""
    for spec in _REGISTRY.values():
        stem, filters = spec.stem
        logits = shapes.get(f"{spec.logits}/weights")
        if stem and logits and (shapes.get(stem) or [0])[-1] == filters:
            return spec.name, int(logits[-1])
    return None


def parse_model_options(text: str | None) -> dict[str, object]:
    """'depth=3,base_filters=16,deep_supervision=true' -> builder keyword arguments."""
    options: dict[str, object] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"--model_options item {item!r} is not key=value")
        raw = raw.strip()
        value: object
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        else:
            try:
                value = int(raw)
            except ValueError:
                try:
                    value = float(raw)
                except ValueError:
                    value = raw
        options[key.strip()] = value
    return options


def model_names() -> list[str]:
    """Every registered net's name, sorted (what --model_name takes)."""
    return sorted(_REGISTRY)


def get_net(name: str) -> NetSpec:
    """The net called `name`; a one-line ValueError listing the known names."""
    if name not in _REGISTRY:
        raise ValueError(f"--model_name={name!r} is not known; choose one of "
                         f"{', '.join(model_names())}")
    return _REGISTRY[name]


def build_model(
    name: str,
    num_classes: int,
    image_size: int | tuple[int, int] | None = None,
    channels: int = 3,
    options: dict[str, object] | None = None,
    preprocessing: str | None = None,
) -> keras.Model:
    """The net `name` for `num_classes` at `image_size` (default: the net's own).

    `options` are the builder's own keyword arguments (e.g. UNet's depth);
    `preprocessing` is TF-Slim's preprocessing name (default: the net's)."""
    spec = get_net(name)
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    height, width = image_size or (spec.default_size, spec.default_size)
    if min(height, width) < spec.min_size:
        raise ValueError(f"{name} needs images of at least {spec.min_size}x{spec.min_size}, "
                         f"got {height}x{width}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    try:
        return spec.builder(num_classes=num_classes, input_shape=(height, width, channels),
                            preprocessing=preprocessing or spec.preprocessing, **(options or {}))
    except TypeError as exc:
        raise ValueError(f"--model_options {options} do not fit {name}: {exc}") from None
