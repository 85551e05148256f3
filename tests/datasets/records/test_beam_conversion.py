"""tf_convert_data --runner=beam, in a network namespace that has only loopback: the same
shards byte for byte, the same dataset_spec.json and tfds metadata as the native pool."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from datasets.records.conversion import ConversionSettings, convert
from tests.support.cli import ROOT, run_offline
from tests.support.folders import multilabel_folder

pytestmark = pytest.mark.slow


def _files(folder: str) -> dict[str, bytes]:
    found = {}
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), "rb") as handle:
            found[name] = handle.read()
    return found


def test_beam_writes_the_records_the_native_pool_writes(tmp_path):
    # Multi-label: the label policy and the stratified plan travel to the workers too.
    source = str(tmp_path / "in")
    rng = np.random.default_rng(3)
    multilabel_folder(source, {f"{i:03d}": {n: str(rng.choice(["1", "0", "-1", ""]))
                                           for n in ("Edema", "Mass")}
                               for i in range(30)}, patients=12)
    options = ["--need_split=tvt_split", "--validation_size=0.2", "--test_size=0.2",
               "--num_shards=2", "--progress=false"]
    native = str(tmp_path / "native")
    convert(ConversionSettings("dicom", source, native, "dicom", need_split="tvt_split",
                               validation_size=0.2, test_size=0.2, num_shards=2,
                               num_workers=2, progress=False))
    beam = str(tmp_path / "beam")
    result = run_offline(sys.executable, os.path.join(ROOT, "tf_convert_data.py"),
                         f"--dataset_dir={source}", f"--output_dir={beam}", *options,
                         "--runner=beam", "--direct_num_workers=2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "wrote 30" in result.stdout
    native_files, beam_files = _files(native), _files(beam)
    assert sorted(beam_files) == sorted(native_files)
    assert sum(n.endswith(".tfrecord") for n in native_files) == 6
    for name, data in native_files.items():  # shards, labels.txt, spec, tfds metadata
        if name == "dataset_info.json":  # it names its own folder
            data = data.replace(native.encode(), beam.encode())
        assert beam_files[name] == data, name
