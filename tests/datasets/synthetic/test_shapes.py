import csv

import numpy as np
from PIL import Image

from datasets.synthetic.shape_images import CLASSES, ShapeSettings, write_shapes
from files.folder_layout import read_class_dict
from tests.support.cli import run_module


def test_experiment_and_holding_sets_with_colour_masks(tmp_path):
    settings = ShapeSettings(20, 32, 40, 8, 16, holding_fraction=0.1, seed=3)
    counts = write_shapes(str(tmp_path), settings)
    assert counts == {"experiment": 18, "holding": 2}
    classes = read_class_dict(str(tmp_path / "experiment" / "class_dict.csv"))
    assert [c.name for c in classes] == [name for name, _ in CLASSES]
    colours = {c.color for c in classes}
    seen = set()
    for path in sorted((tmp_path / "experiment" / "masks").iterdir()):
        mask = np.asarray(Image.open(path))
        image = np.asarray(Image.open(tmp_path / "experiment" / "images" / path.name))
        assert mask.shape == (32, 40, 3) and image.shape == (32, 40, 3)
        found = {tuple(int(v) for v in c) for c in np.unique(mask.reshape(-1, 3), axis=0)}
        assert found <= colours and len(found) >= 2  # background and at least one shape
        seen |= found
    assert seen == colours  # every class occurs somewhere


def test_same_seed_same_images_other_seed_different(tmp_path):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        write_shapes(str(tmp_path / name), ShapeSettings(3, 32, 32, 8, 16, 0.0, seed))
    read = lambda n: (tmp_path / n / "experiment" / "images" / "shape_00000.png").read_bytes()  # noqa: E731
    assert read("a") == read("b") != read("c")


def test_cli_and_its_checks(tmp_path):
    result = run_module("datasets.shapes", f"--output_dir={tmp_path}", "--num_images=10",
                        "--img_height=32", "--img_width=32", "--min_shape_px=8",
                        "--max_shape_px=16", "--progress=false")
    assert result.returncode == 0, result.stderr
    assert "wrote 9 experiment and 1 holding images" in result.stdout
    with open(tmp_path / "holding" / "class_dict.csv") as handle:
        assert next(csv.reader(handle)) == ["name", "r", "g", "b"]
    bad = run_module("datasets.shapes", f"--output_dir={tmp_path}", "--max_shape_px=999")
    assert bad.returncode == 2 and "--max_shape_px must fit" in bad.stderr
