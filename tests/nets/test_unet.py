import numpy as np
import pytest

from datasets.records.tasks import record_task
from nets.nets_factory import build_model, get_net, parse_model_options


@pytest.mark.parametrize("name", ["unet", "unet_plus_plus"])
@pytest.mark.parametrize("channels", [1, 3])
def test_outputs_are_per_pixel_logits_at_the_input_size(name, channels):
    model = build_model(name, 4, (32, 48), channels, {"depth": 3, "base_filters": 4})
    outputs = model(np.zeros((2, 32, 48, channels), np.float32), training=False)
    assert outputs["logits"].shape == (2, 32, 48, 4)
    assert record_task(get_net(name).task).dense


def test_input_must_divide_by_two_to_the_depth():
    with pytest.raises(ValueError, match="divisible by 16"):
        build_model("unet", 2, (40, 48), 1, {"depth": 4, "base_filters": 4})


def test_deep_supervision_heads_average_into_the_logits():
    model = build_model("unet_plus_plus", 3, 32, 1,
                        {"depth": 3, "base_filters": 4, "deep_supervision": True})
    images = np.random.default_rng(0).random((1, 32, 32, 1), dtype=np.float32)
    outputs = model(images, training=False)
    assert sorted(outputs) == ["deep_1", "deep_2", "deep_3", "logits"]
    mean = np.mean([outputs[f"deep_{i}"].numpy() for i in (1, 2, 3)], axis=0)
    np.testing.assert_allclose(outputs["logits"].numpy(), mean, rtol=1e-5, atol=1e-6)


def test_unet_batch_norm_and_dropout_options_change_the_graph():
    plain = build_model("unet", 2, 32, 1, {"depth": 2, "base_filters": 4, "batch_norm": False})
    normed = build_model("unet", 2, 32, 1, {"depth": 2, "base_filters": 4, "dropout": 0.2})
    assert not any("BatchNorm" in layer.name for layer in plain.layers)
    assert any("BatchNorm" in layer.name for layer in normed.layers)
    assert any("Dropout" in layer.name for layer in normed.layers)


def test_model_options_parse_and_reject():
    assert parse_model_options("depth=3, base_filters=16,deep_supervision=true,dropout=0.1") == {
        "depth": 3, "base_filters": 16, "deep_supervision": True, "dropout": 0.1}
    with pytest.raises(ValueError, match="not key=value"):
        parse_model_options("depth")
    with pytest.raises(ValueError, match="do not fit unet"):
        build_model("unet", 2, 32, 1, {"wings": 2})
