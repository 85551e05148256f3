import os

import pydicom

from dicom.metadata.body_part import BodyPartMapper
from dicom.synthetic.synthetic_dicom import SyntheticSpec, synthesize
from tests.support.cli import run_module


def test_synthetic_set_is_valid_varied_and_reproducible(tmp_path):
    spec = SyntheticSpec(num_images=40, seed=5, size=32)
    first = synthesize(str(tmp_path / "a"), spec)
    second = synthesize(str(tmp_path / "b"), spec)
    datasets = [pydicom.dcmread(p) for p in first.images]
    assert len(datasets) == 40 and len(first.defective) == 4
    assert all(ds.file_meta.TransferSyntaxUID for ds in datasets)
    assert {ds.PhotometricInterpretation for ds in datasets} == {"MONOCHROME1", "MONOCHROME2"}
    assert "1.2.840.10008.1.2.5" in {str(ds.file_meta.TransferSyntaxUID) for ds in datasets}
    assert len({ds.PatientID for ds in datasets}) == 5  # 8 images per patient
    assert len({ds.StudyInstanceUID for ds in datasets}) == 10
    assert all(ds.BitsStored == 12 and "RescaleSlope" in ds for ds in datasets)
    raw = {ds.BodyPartExamined for ds in datasets}
    assert len(raw) > 6  # dirty spellings
    mapper = BodyPartMapper()
    assert {mapper.normalise(v) for v in raw if v and v != "SEE NOTES"} <= {
        "CHEST",
        "ABDOMEN",
        "HEAD",
        "EXTREMITY",
    }
    # Same seed, same files: UIDs and pixels.
    again = [pydicom.dcmread(p) for p in second.images]
    assert [d.SOPInstanceUID for d in datasets] == [d.SOPInstanceUID for d in again]
    assert all(a.PixelData == b.PixelData for a, b in zip(datasets, again, strict=True))


def test_cli(tmp_path):
    result = run_module(
        "dicom.synthesize",
        "--output_dir",
        str(tmp_path),
        "--num_images",
        "8",
        "--size",
        "32",
        "--nodefects",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("wrote 8 images (")
    assert not os.path.exists(tmp_path / "defective")
