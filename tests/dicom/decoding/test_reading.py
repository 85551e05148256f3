import io

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)

from dicom.decoding import reading
from dicom.decoding.display import decode_frames
from tests.support.dicom_files import encode, gradient, image_dataset, to_bytes

LOSSLESS = [
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
    RLELossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEG2000Lossless,
]


@pytest.mark.parametrize("syntax", LOSSLESS, ids=lambda s: s.name)
def test_lossless_families_decode_to_the_exact_pixels(syntax):
    pixels = gradient(bits=12)
    data = to_bytes(encode(image_dataset(pixels, bits_stored=12), pixels, syntax))
    ds = reading.read_dicom(data)
    assert str(ds.file_meta.TransferSyntaxUID) == syntax
    np.testing.assert_array_equal(decode_frames(ds)[0], pixels)


@pytest.mark.parametrize(
    ("syntax", "bits", "tolerance"),
    [(JPEGBaseline8Bit, 8, 3), (JPEGExtended12Bit, 12, 24)],
    ids=["baseline-8bit", "extended-12bit"],
)
def test_lossy_jpeg_decodes_close_to_the_source(syntax, bits, tolerance):
    pixels = gradient(bits=bits)
    ds = image_dataset(pixels, bits_stored=bits)
    ds = reading.read_dicom(to_bytes(encode(ds, pixels, syntax)))
    decoded = decode_frames(ds)[0].astype(int)
    assert decoded.shape == pixels.shape
    assert np.abs(decoded - pixels.astype(int)).max() <= tolerance
    assert decoded.max() > 2 ** (bits - 1)  # really 12-bit values, not squeezed to 8


@pytest.mark.parametrize(
    "name",
    [
        "MR_small_bigendian.dcm",
        "MR_small_expb.dcm",
        "MR_small_implicit.dcm",
        "MR_small_RLE.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "MR_small_jp2klossless.dcm",
    ],
)
def test_files_from_other_tools_match_the_uncompressed_reference(name):
    with open(get_testdata_file("MR_small.dcm"), "rb") as handle:
        reference = decode_frames(reading.read_dicom(handle.read()))
    with open(get_testdata_file(name), "rb") as handle:
        other = decode_frames(reading.read_dicom(handle.read()))
    np.testing.assert_array_equal(other.astype(np.int32), reference.astype(np.int32))


def test_dataset_without_preamble_or_file_meta_is_read():
    pixels = gradient(bits=12)
    ds = image_dataset(pixels, bits_stored=12)
    uid = ds.SOPInstanceUID
    data = to_bytes(ds, file_format=False)
    assert data[128:132] != b"DICM"
    parsed = reading.read_dicom(data)
    assert parsed.SOPInstanceUID == uid
    np.testing.assert_array_equal(decode_frames(parsed)[0], pixels)


@pytest.mark.parametrize(
    "data",
    [b"", b"hello, this is a text file\n" * 20, bytes(range(256)) * 8, b"\x00" * 512],
    ids=["empty", "text", "binary", "zeros"],
)
def test_garbage_is_not_dicom_even_though_force_parses_it(data):
    with pytest.raises(reading.RejectedFile) as info:
        reading.read_dicom(data)
    assert info.value.kind == reading.NOT_DICOM


@pytest.mark.parametrize(
    ("name", "what"),
    [("test-SR.dcm", "SR"), ("rtplan.dcm", "RT Plan"), ("waveform_ecg.dcm", "ECG")],
)
def test_objects_without_pixels_are_no_pixel_data_rejects(name, what):
    with open(get_testdata_file(name), "rb") as handle:
        ds = reading.read_dicom(handle.read())
    with pytest.raises(reading.RejectedFile) as info:
        reading.require_image(ds)
    assert info.value.kind == reading.NO_PIXEL_DATA
    assert "no pixel data (" in info.value.reason


def test_truncated_pixel_data_is_a_truncated_reject():
    pixels = gradient(bits=12)
    data = to_bytes(image_dataset(pixels, bits_stored=12))
    ds = reading.read_dicom(data[:-100])
    with pytest.raises(reading.RejectedFile) as info:
        decode_frames(ds)
    assert info.value.kind == reading.TRUNCATED
    assert "\n" not in info.value.reason


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian],
                         ids=lambda s: s.name)
def test_the_header_alone_leaves_the_pixels_unparsed(syntax):
    pixels = gradient(bits=12)
    source = image_dataset(pixels, bits_stored=12)
    source.PatientID = "P-7"
    data = to_bytes(encode(source, pixels, syntax))
    header = reading.read_dicom(data, stop_before_pixels=True)
    assert header.PatientID == "P-7" and int(header.Rows) == source.Rows
    # Uncompressed, the pixel data is never read; a deflated set is inflated whole.
    assert ("PixelData" in header) == (syntax == DeflatedExplicitVRLittleEndian)


def test_unknown_encoding_is_an_unsupported_encoding_reject():
    pixels = gradient(bits=8)
    ds = image_dataset(pixels)
    ds.PixelData = pydicom.encaps.encapsulate([b"\x00\x00\x01\xb3" + bytes(64)])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2
    parsed = reading.read_dicom(to_bytes(ds))
    with pytest.raises(reading.RejectedFile) as info:
        decode_frames(parsed)
    assert info.value.kind == reading.UNSUPPORTED_ENCODING
    assert "MPEG2" in info.value.reason


def test_image_without_rows_is_invalid():
    ds = image_dataset(gradient(bits=8))
    del ds.Rows
    parsed = pydicom.dcmread(io.BytesIO(to_bytes(ds)))
    with pytest.raises(reading.RejectedFile) as info:
        reading.require_image(parsed)
    assert info.value.kind == reading.INVALID_IMAGE and "Rows" in info.value.reason


def test_uid_validation():
    assert reading.is_valid_uid("1.2.840.10008.1.2")
    assert not reading.is_valid_uid("1.02.3")
    assert not reading.is_valid_uid("hello")
    assert not reading.is_valid_uid("1." + "2" * 70)
