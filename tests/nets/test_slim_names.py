"""Every variable of TF-Slim's graph maps to exactly one of our weights and back.

The reference files (tests/nets/tf_slim_variables/, see its README) list the
variables of TF-Slim's own graphs of the ten model-zoo nets.
"""

from __future__ import annotations

import json
import os

import pytest

from nets.nets_factory import build_model, get_net, identify_slim_checkpoint
from nets.slim_names import slim_variables

pytestmark = pytest.mark.slow  # end-to-end: `pytest -m "not slow"` skips it

REFERENCE = os.path.join(os.path.dirname(__file__), "tf_slim_variables")
ZOO_NETS = ["resnet_v1_50", "resnet_v1_101", "resnet_v1_152", "resnet_v2_50", "resnet_v2_101",
            "resnet_v2_152", "inception_v3", "inception_v4", "inception_resnet_v2",
            "mobilenet_v2"]


@pytest.mark.parametrize("name", ZOO_NETS)
def test_our_weights_are_tf_slims_variables_one_to_one(name):
    with open(os.path.join(REFERENCE, f"{name}.json"), encoding="utf-8") as handle:
        reference = {key: list(shape) for key, shape in json.load(handle).items()}
    spec = get_net(name)
    model = build_model(name, spec.zoo_classes)
    ours = {key: list(variable.shape) for key, variable in slim_variables(model).items()}
    assert sorted(set(ours) - set(reference)) == []
    assert sorted(set(reference) - set(ours)) == []
    assert {k: v for k, v in ours.items() if reference[k] != v} == {}
    assert len(ours) == len(model.weights)
    assert identify_slim_checkpoint(reference) == (name, spec.zoo_classes)


def test_mobilenet_depth_multipliers_are_told_apart():
    small = slim_variables(build_model("mobilenet_v2_035", 1001))
    shapes = {key: list(variable.shape) for key, variable in small.items()}
    assert shapes["MobilenetV2/Conv/weights"] == [3, 3, 3, 16]
    assert shapes["MobilenetV2/expanded_conv/depthwise/depthwise_weights"] == [3, 3, 16, 1]
    assert shapes["MobilenetV2/Conv_1/weights"][-1] == 1280  # TF-Slim's finegrain mode
    assert identify_slim_checkpoint(shapes) == ("mobilenet_v2_035", 1001)
    assert identify_slim_checkpoint({"nothing/weights": [1]}) is None
