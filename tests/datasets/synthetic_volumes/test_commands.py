"""The commands as users run them: all four steps, the same seed giving the same bytes
whatever the worker count, resuming, and one-line errors."""

from __future__ import annotations

import os

import h5py
import pytest

from tests.support.cli import run_module
from tests.support.volumes import tree_bytes

PACKAGE = "datasets.synthetic_volumes."


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("templates")
    result = run_module(PACKAGE + "fake_totalsegmentator", f"--output_dir={root}",
                        "--num_subjects=2", "--shape=24,24,28")
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(os.listdir(root)) == ["s0001", "s0002"]
    names = os.listdir(root / "s0001" / "segmentations")
    assert "rib_left_1.nii.gz" in names and "vertebrae_L1.nii.gz" in names
    return str(root)


def _all_steps(templates: str, out: str, workers: int) -> str:
    result = run_module(PACKAGE + "generate_training_data", f"--totalsegmentator_path={templates}",
                        f"--output_dir={out}", "--n_ensembles=4", "--val_count=1",
                        "--side_length=32", "--min_templates=3", "--max_templates=5",
                        f"--max_workers={workers}", "--progress=false")
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.slow
def test_all_steps_are_reproducible_across_worker_counts_and_resume(templates, tmp_path):
    stdout = _all_steps(templates, str(tmp_path / "two"), 2)
    assert "4 samples of 32^3: 3 training, 1 validation" in stdout
    assert not os.path.exists(os.path.join(templates, "s0001", "ct.nii.gz"))  # step 0 ran
    _all_steps(templates, str(tmp_path / "one"), 1)
    for folder in ("label_ensembles", "synthesized_views"):
        two = tree_bytes(str(tmp_path / "two" / folder))
        assert two == tree_bytes(str(tmp_path / "one" / folder)), folder
        assert len(two) == (4 if folder == "label_ensembles" else 8)
    with h5py.File(tmp_path / "two" / "h5_w_segs" / "val_data.hdf5") as val:
        assert sorted(val) == ["000003"] and val["000003"]["img"].shape == (2, 32, 32, 32)
    kept = tree_bytes(str(tmp_path / "two" / "synthesized_views"))
    os.unlink(tmp_path / "two" / "synthesized_views" / "view2" / "000001.nii.gz")
    os.unlink(tmp_path / "two" / "label_ensembles" / "000002.nii.gz")
    result = run_module(PACKAGE + "generate_labels", f"--templatedir={templates}",
                        "--n_ensembles=4", f"--savedir={tmp_path / 'two' / 'label_ensembles'}",
                        "--side_length=32", "--min_templates=3", "--max_templates=5",
                        "--max_workers=2", "--progress=false")
    assert "1 ensembles written, 3 already present" in result.stdout, result.stderr[-2000:]
    result = run_module(PACKAGE + "generate_views", "--end_idx=4",
                        f"--ensembledir={tmp_path / 'two' / 'label_ensembles'}",
                        f"--savedir={tmp_path / 'two' / 'synthesized_views'}", "--progress=false")
    assert "1 view pairs written, 3 already present" in result.stdout, result.stderr[-2000:]
    assert tree_bytes(str(tmp_path / "two" / "synthesized_views")) == kept
    assert tree_bytes(str(tmp_path / "two" / "label_ensembles")) == tree_bytes(
        str(tmp_path / "one" / "label_ensembles"))


def test_bad_input_is_one_line_and_exit_2(templates, tmp_path):
    not_a_tree = run_module(PACKAGE + "generate_labels", f"--templatedir={tmp_path}",
                            "--n_ensembles=1", f"--savedir={tmp_path / 'out'}")
    assert not_a_tree.returncode == 2
    assert "not in TotalSegmentator's layout" in not_a_tree.stderr.strip().splitlines()[-1]
    empty = tmp_path / "empty" / "s0001" / "segmentations"
    empty.mkdir(parents=True)
    no_templates = run_module(PACKAGE + "generate_labels", f"--templatedir={tmp_path / 'empty'}",
                              "--n_ensembles=1", f"--savedir={tmp_path / 'out'}")
    assert no_templates.returncode == 2 and "no segmentations/*.nii.gz template" in (
        no_templates.stderr.strip().splitlines()[-1])
    missing = run_module(PACKAGE + "generate_views", "--end_idx=3",
                         f"--ensembledir={tmp_path / 'none'}", f"--savedir={tmp_path / 'v'}")
    assert missing.returncode == 2
    assert "lacks ensemble 000000.nii.gz" in missing.stderr.strip().splitlines()[-1]
    flags = run_module(PACKAGE + "generate_labels", f"--templatedir={templates}",
                       "--n_ensembles=1", "--min_templates=9", "--max_templates=2",
                       f"--savedir={tmp_path / 'out'}")
    assert flags.returncode == 2 and "1 <= min <= max" in flags.stderr.splitlines()[-1]
