"""Every family builds and runs; parameter counts match the published architectures."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from nets.nets_factory import build_model, get_net, model_names, register
from nets.scopes import in_scope, parse_scopes


def _inference_params(model: keras.Model) -> int:
    """Learned parameters of the inference graph, as the papers count them: the auxiliary
    head (used in training only) and batch-norm moving statistics are not included."""
    inference = keras.Model(model.inputs, model.output["logits"])
    return sum(int(np.prod(v.shape)) for v in inference.trainable_weights)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "published"),
    [
        ("resnet_v1_50", 25.6e6),
        ("resnet_v2_50", 25.6e6),
        ("resnet_v1_18", 11.7e6),
        ("inception_v3", 23.8e6),
        ("inception_v4", 42.7e6),
        ("inception_resnet_v2", 55.8e6),
        ("mobilenet_v2", 3.5e6),
    ],
)
def test_parameter_counts_at_1000_classes_match_the_papers(name, published):
    model = build_model(name, 1000)
    assert model.input_shape == (None, get_net(name).default_size, get_net(name).default_size, 3)
    assert abs(_inference_params(model) - published) / published < 0.01


def test_registry_lists_every_family_once():
    names = model_names()
    for version in (1, 2):
        for depth in (18, 34, 50, 101, 152, 200):
            assert f"resnet_v{version}_{depth}" in names
    assert {"inception_v3", "inception_v4", "inception_resnet_v2", "mobilenet_v2"} <= set(names)
    with pytest.raises(ValueError, match="is not known; choose one of"):
        get_net("vgg_16")
    with pytest.raises(ValueError, match="already registered"):
        register(get_net("resnet_v1_50"))


@pytest.mark.parametrize(
    ("name", "size"),
    [("resnet_v1_18", (32, 40)), ("resnet_v2_50", (32, 32)), ("resnet_v1_34", (33, 35)),
     ("inception_v3", (75, 80)),
     pytest.param("inception_v4", (75, 75), marks=pytest.mark.slow),
     pytest.param("inception_resnet_v2", (75, 75), marks=pytest.mark.slow),
     ("mobilenet_v2_035", (32, 48))],
)
@pytest.mark.parametrize("channels", [1, 3])
def test_each_family_runs_forward_on_small_images(name, size, channels):
    model = build_model(name, 4, size, channels)
    images = np.random.default_rng(0).random((2, *size, channels), dtype=np.float32)
    outputs = model(images, training=False)
    assert outputs["logits"].shape == (2, 4)
    assert np.isfinite(outputs["logits"].numpy()).all()
    if get_net(name).has_aux_logits:
        assert outputs["aux_logits"].shape == (2, 4)
    else:
        assert set(outputs) == {"logits"}


def test_below_the_minimum_size_is_a_clear_error():
    with pytest.raises(ValueError, match="inception_v4 needs images of at least 75x75"):
        build_model("inception_v4", 2, 64)


def test_tf_slim_scope_strings_select_the_same_parts():
    model = build_model("inception_v4", 5, 75, 1)
    exclude = parse_scopes("InceptionV4/Logits,InceptionV4/AuxLogits")
    assert exclude == ["InceptionV4.Logits", "InceptionV4.AuxLogits"]
    selected = {v.path for v in model.weights if in_scope(v.path.rsplit("/", 1)[0], exclude)}
    assert "InceptionV4.Logits.Logits/kernel" in selected
    assert "InceptionV4.Logits.Logits/bias" in selected
    assert "InceptionV4.AuxLogits.Aux_logits/kernel" in selected
    assert "InceptionV4.AuxLogits.Conv2d_1b_1x1/kernel" in selected
    assert not any(p.startswith("InceptionV4.Mixed_7d") for p in selected)
    resnet = build_model("resnet_v2_50", 3, 32)
    logits = {v.path for v in resnet.weights
              if in_scope(v.path.rsplit("/", 1)[0], parse_scopes("resnet_v2_50/logits"))}
    assert logits == {"resnet_v2_50.logits/kernel", "resnet_v2_50.logits/bias"}
    # a prefix of a name is not a scope: block1 does not select block10+
    assert not in_scope("resnet_v2_50.block10.unit_1", ["resnet_v2_50.block1"])
