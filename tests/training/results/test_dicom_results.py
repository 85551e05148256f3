"""classify_image --dicom_output_dir: SRs and SEGs that dciodvfy accepts, that refer to
exactly their sources, that read back through highdicom to the text output and the PNG
masks, and that --store_to puts under the source study in a real Orthanc."""

from __future__ import annotations

import glob
import os
import re

import numpy as np
import pydicom
import pytest
from PIL import Image

from dicom.synthetic.synthetic_dicom import SyntheticSpec, synthesize
from tests.support.cli import run_module
from tests.support.dicom_results import (
    dciodvfy_errors,
    legacy_converted_enhanced_mr,
    multi_frame_source,
    referenced_uids,
    sr_evaluations,
    sr_image_references,
    sr_measurements,
)
from tests.support.model_cache import shared_model
from tests.support.pacs_peers import free_port, start_orthanc
from tests.support.pacs_runs import CREDENTIALS
from tests.support.tiny_models import BODY_PART_CLASSIFIER, CARDIAC_UNET

pytestmark = pytest.mark.slow  # two tiny models (shared), classify_image as users run it


@pytest.fixture(scope="module")
def classifier(tmp_path_factory) -> dict:
    """The run's shared body-part classifier (MYSTERY has no standard code), read only,
    and eight synthetic radiographs to classify."""
    model = shared_model(BODY_PART_CLASSIFIER, tmp_path_factory)
    root = tmp_path_factory.mktemp("classifier")
    train_dir = model.train_dir
    dicoms = synthesize(str(root / "dicom"), SyntheticSpec(num_images=8, seed=3, size=32,
                                                          defects=False)).images
    images = os.path.join(model.root, "in", "images")
    png = os.path.join(images, sorted(os.listdir(images))[0])
    listing = root / "input.txt"
    listing.write_text("\n".join([*dicoms, png]) + "\n")
    return {"root": root, "train_dir": train_dir, "dicoms": dicoms, "listing": str(listing)}


@pytest.fixture(scope="module")
def segmenter(tmp_path_factory) -> dict:
    """The run's shared cardiac UNet, read only, its 3 patients' MR series and a
    radiograph it cannot segment."""
    model = shared_model(CARDIAC_UNET, tmp_path_factory)
    root = tmp_path_factory.mktemp("segmenter")
    train_dir = model.train_dir
    series = sorted(glob.glob(os.path.join(model.root, "raw", "dicoms", "*", "*.dcm")))
    radiograph = synthesize(str(root / "cr"), SyntheticSpec(num_images=1, seed=4, size=32,
                                                           defects=False)).images[0]
    listing = root / "input.txt"
    listing.write_text("\n".join([*series, radiograph]) + "\n")
    return {"root": root, "train_dir": train_dir, "series": series, "listing": str(listing),
            "radiograph": radiograph}


def _classify(model: dict, out, *args: str):
    return run_module("classify_image", f"--infile={model['listing']}",
                      f"--checkpoint_path={model['train_dir']}", f"--dicom_output_dir={out}",
                      f"--outfile={out}.txt", *args, env=CREDENTIALS)


def _text_values(dataset) -> list[str]:
    found = []
    for item in dataset.get("ContentSequence", []):
        if "TextValue" in item:
            found.append(str(item.TextValue))
        found += _text_values(item)
    return found


def _uid(path: str) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def test_one_sr_per_image_names_its_source_and_reads_back_to_the_text_output(
        classifier, tmp_path):
    out = tmp_path / "results"
    result = _classify(classifier, out)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"wrote {len(classifier['dicoms'])} SR to {out}" in result.stderr
    assert "1 input(s) got none" in result.stderr and "a DICOM result needs" in result.stderr
    lines = [line.split("\t") for line in (tmp_path / "results.txt").read_text().splitlines()
             if not line.startswith("#")]
    text = {line[0]: dict(item.split(":") for item in line[3].split(",")) for line in lines}
    written = sorted(glob.glob(str(out / "SR_*.dcm")))
    assert len(written) == len(classifier["dicoms"])
    by_source = {}
    for path in written:
        assert dciodvfy_errors(path) == [], path
        [source] = referenced_uids(path)
        by_source[source] = path
    assert set(by_source) == {_uid(p) for p in classifier["dicoms"]}
    meanings = {"CHEST": "Chest", "ABDOMEN": "Abdomen", "MYSTERY": "MYSTERY"}  # MYSTERY: local
    for dicom_path in classifier["dicoms"]:
        sr = by_source[_uid(dicom_path)]
        measured = sr_measurements(sr)[_uid(dicom_path)]
        for name, probability in text[dicom_path].items():
            assert measured[meanings[name]] == pytest.approx(float(probability), abs=5e-5)
        best = max(text[dicom_path], key=lambda name: float(text[dicom_path][name]))
        assert ("Predicted class", meanings[best]) in sr_evaluations(sr)[_uid(dicom_path)]
    dataset = pydicom.dcmread(written[0])
    assert len({str(pydicom.dcmread(p).SeriesInstanceUID) for p in written}) == 1  # one series
    assert dataset.Manufacturer == "medcv"
    texts = _text_values(dataset)
    assert "medcv resnet_v1_18" in texts  # the algorithm: net, checkpoint step, config hash
    assert any(re.fullmatch(r"step 6, config [0-9a-f]{16}", t) for t in texts)
    again = _classify(classifier, out)  # the same model and inputs: the same objects
    assert again.returncode == 0 and sorted(glob.glob(str(out / "SR_*.dcm"))) == written


def test_one_sr_per_study_names_every_image_of_the_study(classifier, tmp_path):
    out = tmp_path / "by_study"
    result = _classify(classifier, out, "--sr_per=study")
    assert result.returncode == 0, result.stderr[-3000:]
    studies: dict[str, set[str]] = {}
    for path in classifier["dicoms"]:
        header = pydicom.dcmread(path, stop_before_pixels=True)
        studies.setdefault(str(header.StudyInstanceUID), set()).add(str(header.SOPInstanceUID))
    written = sorted(glob.glob(str(out / "SR_*.dcm")))
    assert len(written) == len(studies)
    assert {frozenset(referenced_uids(p)) for p in written} == {
        frozenset(v) for v in studies.values()}
    for path in written:
        assert dciodvfy_errors(path) == []
        assert str(pydicom.dcmread(path).StudyInstanceUID) in studies


@pytest.mark.parametrize("seg_type", ["binary", "fractional"])
def test_one_seg_per_series_reads_back_to_the_png_masks(segmenter, tmp_path, seg_type):
    out, masks = tmp_path / "results", tmp_path / "masks"
    result = run_module("classify_image", f"--infile={segmenter['listing']}",
                        f"--checkpoint_path={segmenter['train_dir']}", f"--output_dir={masks}",
                        f"--dicom_output_dir={out}", f"--seg_type={seg_type}",
                        f"--outfile={tmp_path / 'out.txt'}")
    assert result.returncode == 0, result.stderr[-3000:]
    patients = {os.path.basename(os.path.dirname(p)) for p in segmenter["series"]}
    written = sorted(glob.glob(str(out / "SEG_*.dcm")))
    assert len(written) == len(patients)  # one SEG per source series
    # The radiograph has no geometry: one line naming what it lacks; its PNG mask is there.
    assert "no FrameOfReferenceUID, which a DICOM SEG needs" in result.stderr
    rows = {line.split("\t")[0]: line.split("\t")[1]
            for line in (tmp_path / "out.txt").read_text().splitlines()[1:]}
    assert os.path.exists(rows[segmenter["radiograph"]])
    import highdicom as hd

    for path in written:
        assert dciodvfy_errors(path) == [], path
        seg = hd.seg.segread(path)
        sources = [str(s.ReferencedSOPInstanceUID)
                   for s in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence]
        by_uid = {_uid(p): p for p in segmenter["series"]}
        assert len(sources) == 4 and set(sources) <= set(by_uid)
        pixels = seg.get_pixels_by_source_instance(
            source_sop_instance_uids=sources, combine_segments=seg_type == "binary",
            relabel=False) if seg_type == "binary" else seg.get_pixels_by_source_instance(
            source_sop_instance_uids=sources)
        for index, uid in enumerate(sources):
            png = np.asarray(Image.open(rows[by_uid[uid]]))
            if seg_type == "binary":
                np.testing.assert_array_equal(pixels[index], png)
            else:  # the PNG's class has the largest stored probability, up to the rounding
                # of the stored fractions (an untrained model's classes nearly tie)
                background = 1.0 - pixels[index].sum(axis=-1, keepdims=True)
                stacked = np.concatenate([background, pixels[index]], axis=-1)
                chosen = np.take_along_axis(stacked, png[..., np.newaxis].astype(int), -1)
                step = stacked.shape[-1] / float(seg.MaximumFractionalValue)
                assert (stacked.max(axis=-1) - chosen[..., 0] <= step).all()


def test_a_multi_frame_source_gets_one_seg_over_its_frames(segmenter, tmp_path):
    import highdicom as hd

    patient = sorted({os.path.dirname(p) for p in segmenter["series"]})[0]
    slices = [p for p in segmenter["series"] if os.path.dirname(p) == patient]
    enhanced = str(tmp_path / "enhanced.dcm")
    uid = legacy_converted_enhanced_mr(slices, enhanced)  # highdicom's converter
    listing = tmp_path / "input.txt"
    listing.write_text(enhanced + "\n")
    out, masks = tmp_path / "results", tmp_path / "masks"
    result = run_module("classify_image", f"--infile={listing}",
                        f"--checkpoint_path={segmenter['train_dir']}", f"--output_dir={masks}",
                        f"--dicom_output_dir={out}", f"--outfile={tmp_path / 'out.txt'}")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {line.split("\t")[0]: line.split("\t")[1]
            for line in (tmp_path / "out.txt").read_text().splitlines()[1:]}
    assert sorted(rows) == [f"{enhanced}#f{n}" for n in range(1, len(slices) + 1)]
    [written] = glob.glob(str(out / "SEG_*.dcm"))
    assert dciodvfy_errors(written) == []
    seg = hd.seg.segread(written)
    frames = list(range(1, len(slices) + 1))
    pixels = seg.get_pixels_by_source_frame(
        source_sop_instance_uid=uid, source_frame_numbers=frames, combine_segments=True,
        relabel=False)
    for index, number in enumerate(frames):
        png = np.asarray(Image.open(rows[f"{enhanced}#f{number}"]))
        np.testing.assert_array_equal(pixels[index], png)


def test_a_multi_frame_source_missing_a_frame_is_one_line_and_no_seg(segmenter, tmp_path):
    from dicom.decoding.display import FrameName
    from training.results.result_codes import ResultCodes
    from training.results.result_folder import ResultFolder
    from training.results.result_identity import ModelIdentity, config_hash
    from training.results.segmentation_results import SegmentationResults

    patient = sorted({os.path.dirname(p) for p in segmenter["series"]})[0]
    slices = [p for p in segmenter["series"] if os.path.dirname(p) == patient]
    enhanced = str(tmp_path / "enhanced.dcm")
    uid = legacy_converted_enhanced_mr(slices, enhanced)
    header = pydicom.dcmread(enhanced, stop_before_pixels=True)
    shape = (int(header.Rows), int(header.Columns))
    folder = ResultFolder(str(tmp_path / "results"))
    results = SegmentationResults(folder, ["background", "blood_pool", "myocardium"],
                                  ModelIdentity("unet", 1, config_hash("run")),
                                  ResultCodes.load())
    for frame in range(1, len(slices)):  # the last frame failed, say
        results.add(FrameName(enhanced, frame), np.zeros(shape, np.uint8),
                    np.zeros((*shape, 3), np.float32))
    summary = results.finish()
    assert summary.written == [] and glob.glob(str(tmp_path / "results" / "SEG_*")) == []
    assert summary.skipped == [f"{uid}: {len(slices) - 1} of its {len(slices)} frames were "
                               "segmented; its SEG needs every frame"]


def _orthanc_series_descriptions(orthanc, study_uid: str) -> list[str]:
    [study] = orthanc.rest("POST", "/tools/find", json={
        "Level": "Study", "Query": {"StudyInstanceUID": study_uid}}).json()
    series = orthanc.rest("GET", f"/studies/{study}/series").json()
    return sorted(s["MainDicomTags"].get("SeriesDescription", "") for s in series)


def test_results_stored_to_orthanc_sit_under_the_source_study_and_a_rerun_sends_none(
        classifier, segmenter, tmp_path):
    orthanc = start_orthanc(str(tmp_path / "orthanc"))
    try:
        orthanc.upload([*classifier["dicoms"], *segmenter["series"]])
        out = tmp_path / "results"
        down = _classify(classifier, out, "--store_to=dicomweb+http://127.0.0.1:"
                                          f"{free_port()}/dicom-web")
        errors = [line for line in down.stderr.splitlines() if line.startswith("error:")]
        assert down.returncode == 2 and len(errors) == 1 and "re-run" in errors[0]
        written = sorted(glob.glob(str(out / "SR_*.dcm")))
        assert len(written) == len(classifier["dicoms"])  # all kept locally
        stored = _classify(classifier, out, f"--store_to={orthanc.dicomweb}")
        assert stored.returncode == 0, stored.stderr[-3000:]
        assert f"stored {len(written)} object(s)" in stored.stderr
        again = _classify(classifier, out, f"--store_to={orthanc.dicomweb}")
        assert "stored 0 object(s)" in again.stderr
        study = str(pydicom.dcmread(classifier["dicoms"][0]).StudyInstanceUID)
        assert any("classification" in d for d in _orthanc_series_descriptions(orthanc, study))
        sr_uids = {_uid(p) for p in written}
        assert sr_uids <= orthanc.find_instances({"Modality": "SR"})
        # SEGs over DIMSE C-STORE (Orthanc accepts C-STORE from any AE by default).
        segs = tmp_path / "segs"
        result = run_module("classify_image", f"--infile={segmenter['listing']}",
                            f"--checkpoint_path={segmenter['train_dir']}",
                            f"--output_dir={tmp_path / 'masks'}", f"--dicom_output_dir={segs}",
                            f"--store_to={orthanc.dimse}")
        assert result.returncode == 0, result.stderr[-3000:]
        assert re.search(r"stored 3 object\(s\) to dimse://", result.stderr)
        seg_study = str(pydicom.dcmread(segmenter["series"][0]).StudyInstanceUID)
        assert any("segmentation" in d
                   for d in _orthanc_series_descriptions(orthanc, seg_study))
    finally:
        orthanc.stop()


def test_each_frame_of_a_multi_frame_source_gets_an_sr_that_points_at_the_frame(
        classifier, tmp_path):
    from pydicom.data.data_manager import DATA_ROOT

    from dicom.ingestion.catalog import Catalog
    from dicom.ingestion.database_url import resolve_db_url
    from dicom.ingestion.ingest import ingest_directory

    (tmp_path / "mf").mkdir()
    framed = str(tmp_path / "mf" / "frames.dcm")
    uid = multi_frame_source(framed, frames=3)
    rgb = os.path.join(DATA_ROOT, "test_files", "SC_rgb_rle_2frame.dcm")  # SC: single-frame IOD
    listing = tmp_path / "input.txt"
    listing.write_text(f"{framed}\n{rgb}\n")
    out = tmp_path / "results"
    result = run_module("classify_image", f"--infile={listing}",
                        f"--checkpoint_path={classifier['train_dir']}",
                        f"--dicom_output_dir={out}", f"--outfile={tmp_path / 'out.txt'}")
    assert result.returncode == 0, result.stderr[-3000:]
    listed = [line.split("\t")[0] for line in (tmp_path / "out.txt").read_text().splitlines()
              if not line.startswith("#")]
    assert listed == [f"{framed}#f1", f"{framed}#f2", f"{framed}#f3", f"{rgb}#f1", f"{rgb}#f2"]
    written = sorted(glob.glob(str(out / "SR_*.dcm")))
    assert len(written) == 5
    references = []
    for path in written:
        assert dciodvfy_errors(path) == [], path
        [reference] = sr_image_references(path)
        references.append(reference)
    rgb_uid = _uid(rgb)
    # A multi-frame IOD: each SR names its frame. The SC IOD has no frames to name: both
    # SRs refer to the instance, and they are still two objects.
    assert sorted(r for r in references if r[0] == uid) == [(uid, [1]), (uid, [2]), (uid, [3])]
    assert [r for r in references if r[0] != uid] == [(rgb_uid, None), (rgb_uid, None)]
    # From the catalog: the rows of the frames give the same references.
    db_url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    catalog = Catalog.open(resolve_db_url(db_url))
    ingest_directory(str(tmp_path / "mf"), catalog, workers=0, progress=False)
    catalog.dispose()
    from_catalog = tmp_path / "from_catalog"
    result = run_module("classify_image", f"--db_url={db_url}", "--query=all",
                        f"--checkpoint_path={classifier['train_dir']}",
                        f"--dicom_output_dir={from_catalog}",
                        f"--outfile={tmp_path / 'catalog.txt'}")
    assert result.returncode == 0, result.stderr[-3000:]
    written = sorted(glob.glob(str(from_catalog / "SR_*.dcm")))
    assert sorted(sr_image_references(p)[0] for p in written) == [
        (uid, [1]), (uid, [2]), (uid, [3])]
    assert all(dciodvfy_errors(p) == [] for p in written)


def test_catalog_inputs_give_srs_with_the_catalogs_deidentified_values(classifier, tmp_path):
    from dicom.ingestion.catalog import Catalog
    from dicom.ingestion.database_url import resolve_db_url
    from dicom.ingestion.file_processing import IngestSettings
    from dicom.ingestion.ingest import ingest_directory

    db_url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    catalog = Catalog.open(resolve_db_url(db_url))
    ingest_directory(str(classifier["root"] / "dicom"), catalog,
                     IngestSettings(deid_key=b"results-from-the-catalog-key"), workers=0,
                     progress=False)
    with catalog.engine.connect() as connection:
        rows = {r.ID: r for r in connection.execute(catalog.images.select())}
    catalog.dispose()
    out = tmp_path / "results"
    result = run_module("classify_image", f"--db_url={db_url}", "--query=all",
                        f"--checkpoint_path={classifier['train_dir']}",
                        f"--dicom_output_dir={out}", f"--outfile={tmp_path / 'out.txt'}")
    assert result.returncode == 0, result.stderr[-3000:]
    listed = [line.split("\t")[0] for line in (tmp_path / "out.txt").read_text().splitlines()
              if not line.startswith("#")]
    assert sorted(listed) == sorted(rows)  # the catalog IDs
    written = sorted(glob.glob(str(out / "SR_*.dcm")))
    assert len(written) == len(rows)
    originals = {str(pydicom.dcmread(p).PatientID) for p in classifier["dicoms"]}
    for path in written:
        assert dciodvfy_errors(path) == []
        sr = pydicom.dcmread(path)
        [source] = referenced_uids(path)
        row = next(r for r in rows.values() if r.SOPInstanceUID == source)
        assert str(sr.PatientID) == row.patient_key and str(sr.PatientID) not in originals
        assert str(sr.StudyInstanceUID) == row.StudyInstanceUID
    missing = run_module("classify_image", f"--db_url={db_url}",
                         f"--checkpoint_path={classifier['train_dir']}")
    assert missing.returncode == 2 and "--db_url needs --query" in missing.stderr
