"""Step 3's exact HDF5 layout and split, and the tf.data source over it."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from datasets.synthetic_volumes.h5_samples import write_h5
from datasets.synthetic_volumes.h5_source import volume_pairs
from tests.support.volumes import numbered_volumes

SIDE = 6


@pytest.fixture
def folders(tmp_path):
    rng = np.random.default_rng(0)
    volumes = {name: {i: rng.integers(0, 256, (SIDE,) * 3, dtype=np.uint8) for i in range(5)}
               for name in ("view1", "view2", "seg")}
    for name, items in volumes.items():
        numbered_volumes(str(tmp_path / name), items)
    return tmp_path, volumes


def test_layout_groups_and_validation_split(folders):
    root, volumes = folders
    summary = write_h5(str(root / "view1"), str(root / "view2"), str(root / "seg"),
                       str(root / "out"), val_count=2)
    assert (summary.train, summary.val, summary.skipped) == (3, 2, False)
    with h5py.File(root / "out" / "train_data.hdf5") as train, \
            h5py.File(root / "out" / "val_data.hdf5") as val:
        assert sorted(train) == ["000000", "000001", "000002"]
        assert sorted(val) == ["000003", "000004"]  # the global index continues
        for handle in (train, val):
            for name in handle:
                index = int(name)
                img, seg = handle[name]["img"], handle[name]["seg"]
                assert img.dtype == seg.dtype == np.uint8
                assert img.shape == (2, SIDE, SIDE, SIDE) and seg.shape == (SIDE,) * 3
                assert np.array_equal(img[0], volumes["view1"][index])
                assert np.array_equal(img[1], volumes["view2"][index])
                assert np.array_equal(seg[()], volumes["seg"][index])
    again = write_h5(str(root / "view1"), str(root / "view2"), str(root / "seg"),
                     str(root / "out"), val_count=2)
    assert again.skipped


def test_unmatched_folders_and_bad_counts_are_refused(folders):
    root, _ = folders
    numbered_volumes(str(root / "view1"), {9: np.zeros((SIDE,) * 3, np.uint8)})
    with pytest.raises(ValueError, match=r"--view1_dir .* 1 volume.* 000009"):
        write_h5(str(root / "view1"), str(root / "view2"), str(root / "seg"),
                 str(root / "out"), val_count=1)
    (root / "view1" / "000009.nii.gz").unlink()
    with pytest.raises(ValueError, match="--val_count=5 must leave training samples"):
        write_h5(str(root / "view1"), str(root / "view2"), str(root / "seg"),
                 str(root / "out"), val_count=5)


def test_tf_data_source_reshuffles_every_epoch(folders):
    root, volumes = folders
    write_h5(str(root / "view1"), str(root / "view2"), str(root / "seg"), str(root / "out"),
             val_count=0)
    dataset = volume_pairs(str(root / "out" / "train_data.hdf5"), batch_size=1, seed=3,
                           num_epochs=2)
    orders = []
    for first, second, labels in dataset:
        match = [i for i, v in volumes["view1"].items() if np.array_equal(v, first[0].numpy())]
        index = match[0]
        assert np.array_equal(second[0].numpy(), volumes["view2"][index])
        assert np.array_equal(labels[0].numpy(), volumes["seg"][index])
        orders.append(index)
    first_epoch, second_epoch = orders[:5], orders[5:]
    assert sorted(first_epoch) == sorted(second_epoch) == [0, 1, 2, 3, 4]
    assert first_epoch != second_epoch
