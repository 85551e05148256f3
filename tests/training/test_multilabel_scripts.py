"""Multi-label findings end to end, as a user runs them: synthetic radiographs with planted
findings and their CheXpert table -> catalog -> label set -> labels.csv -> records ->
train (default flags, --pos_weight=auto) -> eval -> classify (text and DICOM SR) -> the
SavedModel. A short CPU training must find every planted finding (AUROC >= 0.9 on the
test split) while the label without pixel signal stays near chance."""

from __future__ import annotations

import json
import os
from pathlib import Path

import highdicom as hd
import numpy as np
import pytest
import tensorflow as tf

from tests.support.cli import run_module
from tests.support.dicom_results import dciodvfy_errors
from tests.support.findings_catalog import fetched_findings
from training.classification.probability_scaling import read_scaling

pytestmark = pytest.mark.slow

PLANTED = ("Cardiomegaly", "Lung Opacity", "Lung Lesion")  # CheXpert names of the findings
NO_SIGNAL = "Fracture"


def _run(*args: str) -> str:
    result = run_module(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("multilabel")
    dicom = str(root / "dicom")
    fetched, records = fetched_findings(root, 480, 64, seed=1), str(root / "records")
    _run("tf_convert_data", f"--dataset_dir={fetched}", f"--output_dir={records}",
         "--need_split=tvt_split", "--validation_size=0.2", "--test_size=0.25",
         "--progress=false")
    train_dir = str(root / "train")
    _run("train_image_classifier", f"--train_dir={train_dir}", f"--dataset_dir={records}",
         "--model_name=resnet_v1_18", "--train_image_size=48", "--batch_size=16",
         "--max_number_of_steps=200", "--optimizer=adam", "--opt_epsilon=1e-7",
         "--learning_rate=0.002", "--log_every_n_steps=100", "--seed=0", "--pos_weight=auto")
    eval_out = _run("eval_image_classifier", f"--checkpoint_path={train_dir}",
                    "--dataset_split_name=test", f"--eval_dir={root / 'eval'}",
                    "--subgroups=PatientSex,ViewPosition,site", "--min_subgroup_size=15")
    _run("export_model", f"--checkpoint_path={train_dir}",  # after eval: with its thresholds
         f"--export_dir={root / 'saved_model'}")
    return {"root": str(root), "dicom": dicom, "records": records, "train_dir": train_dir,
            "eval_out": eval_out}


def test_records_are_multilabel_with_the_policy_and_counts(pipeline):
    with open(os.path.join(pipeline["records"], "dataset_spec.json")) as handle:
        spec = json.load(handle)
    assert spec["task"] == "multilabel" and spec["label_policy"]["uncertain"] == "ignore"
    assert len(spec["class_names"]) == 14 and spec["grouped_by_patient"]
    counts = spec["splits"]["train"]["label_counts"]
    assert all(counts[name]["unknown"] > 0 for name in PLANTED)  # the -1.0 entries, masked
    with open(os.path.join(pipeline["train_dir"], "medcv_train.json")) as handle:
        config = json.load(handle)
    assert config["task"] == "multilabel" and config["label_policy"] == spec["label_policy"]
    names = spec["class_names"]
    lesion = counts["Lung Lesion"]
    assert config["pos_weight"][names.index("Lung Lesion")] == pytest.approx(
        lesion["negative"] / lesion["positive"], rel=1e-4)


def test_every_planted_finding_is_found_and_the_signal_free_label_is_not(pipeline):
    with open(os.path.join(pipeline["root"], "eval", "metrics.json")) as handle:
        report = json.load(handle)
    per_label = report["per_label"]
    for name in PLANTED:
        assert per_label[name]["auroc"] >= 0.9, (name, per_label[name])
    assert 0.3 <= per_label[NO_SIGNAL]["auroc"] <= 0.7, per_label[NO_SIGNAL]
    assert "Edema" in report["labels_without_positives"]
    assert per_label["Edema"]["auroc"] is None
    assert per_label["Edema"]["status"].startswith("no positives in this split")
    assert report["threshold_split"] == "validation" and report["threshold_rule"] == "youden"
    assert os.path.getsize(os.path.join(pipeline["root"], "eval", "roc_curves.png")) > 1000
    with open(os.path.join(pipeline["train_dir"], "thresholds.json")) as handle:
        thresholds = json.load(handle)
    assert thresholds["split"] == "validation" and thresholds["values"]["Edema"] is None
    assert all(0 <= thresholds["values"][name] <= 1 for name in PLANTED)
    assert "left out of the macro means (no positives here): Enlarged Cardiomediastinum" in (
        pipeline["eval_out"])


def test_eval_writes_the_report_the_model_card_and_a_fitted_calibration(pipeline):
    """The evidence a user gets from eval's default flags on multi-label records."""
    eval_dir = os.path.join(pipeline["root"], "eval")
    with open(os.path.join(eval_dir, "metrics.json")) as handle:
        report = json.load(handle)
    scaling = report["calibration_scaling"]
    assert scaling["scaling"]["method"] == "platt" and scaling["scaling"]["split"] == "validation"
    for name in PLANTED:  # before and after, per label, on the test split
        assert 0 <= scaling["before"][name]["ece"] <= 1
        assert 0 <= scaling["after"][name]["ece"] <= 1
    assert {"train", "validation", "test"} <= set(report["data_make_up"])
    test = report["data_make_up"]["test"]
    assert test["images"] == report["num_examples"] and 0 < test["patients"] <= test["images"]
    assert test["prevalence"]["Cardiomegaly"] > 0
    assert {f["class"] for f in report["failures"]} <= set(report["class_names"])
    html = Path(eval_dir, "report.html").read_text(encoding="utf-8")
    assert "Platt scaling per label" in html and "data:image/png;base64," in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    subgroups = report["subgroups"]["by_attribute"]  # from the catalog, through the records
    assert {"F", "M"} <= set(subgroups["PatientSex"]["groups"])
    assert {"PA", "AP", "LL"} <= set(subgroups["ViewPosition"]["groups"])
    assert list(subgroups["site"]["groups"]) == ["SPRINGFIELD GENERAL HOSPITAL"]
    for group in subgroups["PatientSex"]["groups"].values():
        if group["status"] == "ok":
            assert "macro_auroc" in group["intervals"] and group["patients"] > 0
    assert report["subgroups"]["largest_gap"]["attribute"] in ("PatientSex", "ViewPosition")
    assert "largest subgroup gap: macro_auroc of" in pipeline["eval_out"]
    card = Path(eval_dir, "model_card.md").read_text(encoding="utf-8")
    assert "## Intended use" in card and "to be completed by the model's owner" in card
    assert "macro_auroc: " in card and "None: the catalog was ingested without" in card


def _text_values(dataset) -> list[str]:
    """Every TEXT content item's value, however deep (an SR's algorithm version is one)."""
    found = []
    for item in getattr(dataset, "ContentSequence", []):
        if item.ValueType == "TEXT":
            found.append(str(item.TextValue))
        found += _text_values(item)
    return found


def _predictions(path: str) -> dict[str, tuple[str, dict[str, float]]]:
    out = {}
    with open(path, encoding="utf-8") as handle:
        lines = [line.rstrip("\n").split("\t") for line in handle if not line.startswith("#")]
    for source, findings, probabilities in lines:
        out[source] = (findings, {k: float(v) for k, v in (
            item.rsplit(":", 1) for item in probabilities.split(","))} if findings != "ERROR"
            else {})
    return out


def test_classify_reports_findings_above_the_thresholds_as_text_and_sr(pipeline, tmp_path):
    files = sorted(os.path.join(base, name) for base, _, names in os.walk(pipeline["dicom"])
                   for name in names if name.endswith(".dcm"))[:6]
    listing = tmp_path / "inputs.txt"
    listing.write_text("\n".join([*files, str(tmp_path / "missing.dcm")]) + "\n")
    out, results = tmp_path / "predictions.txt", tmp_path / "sr"
    _run("classify_image", f"--infile={listing}", f"--checkpoint_path={pipeline['train_dir']}",
         f"--outfile={out}", f"--dicom_output_dir={results}")
    header = out.read_text().splitlines()[0]
    assert "thresholds chosen by youden on split validation" in header
    assert "; probabilities calibrated by Platt scaling per label" in header
    # the thresholds as the header states them: on the calibrated scale
    listed = header.split(" at step ", 1)[1].split(": ", 1)[1].split("; probabilities")[0]
    thresholds = {name: float(value) for name, value in (
        item.rsplit(":", 1) for item in listed.split(","))}
    predicted = _predictions(str(out))
    assert predicted[str(tmp_path / "missing.dcm")][0] == "ERROR"
    with open(results / "results.json") as handle:
        ledger = json.load(handle)
    srs = {entry["sources"][0]: os.path.join(results, entry["file"])
           for entry in ledger["objects"]}
    for path in files:
        findings, probabilities = predicted[path]
        assert len(probabilities) == 14
        limits = thresholds
        # The text rounds to 4 places: a label that close to its threshold may go either way.
        close = {n for n, p in probabilities.items() if abs(p - limits[n]) <= 2e-4}
        expected = [n for n, p in probabilities.items() if p >= limits[n] and n not in close]
        found = [] if findings == "none" else findings.split("|")
        assert [n for n in found if n not in close] == expected
        import pydicom

        sop = str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)
        report = hd.sr.srread(srs[sop])
        texts = _text_values(report)  # the algorithm version says how the model was applied
        assert any(v.endswith(", calibrated Platt") for v in texts), texts
        group = report.content.get_image_measurement_groups()[0]
        coded = [e.name.meaning for e in group.get_qualitative_evaluations()
                 if e.value.meaning == "Present"]
        # Names as the codes mean them (SNOMED CT's "Pleural effusion", ...).
        assert sorted(c.lower() for c in coded) == sorted(n.lower() for n in found)
        measured = {m.name.meaning.lower(): float(m.value) for m in group.get_measurements()}
        assert measured == pytest.approx({n.lower(): p for n, p in probabilities.items()},
                                         abs=1e-4)
        assert dciodvfy_errors(srs[sop]) == []


def test_the_saved_model_gives_probabilities_and_findings(pipeline):
    saved = os.path.join(pipeline["root"], "saved_model")
    with open(os.path.join(saved, "medcv_model.json")) as handle:
        info = json.load(handle)
    assert info["task"] == "multilabel"
    fetched = os.path.join(pipeline["root"], "fetched", "images")
    pngs = []
    for name in sorted(os.listdir(fetched))[:4]:
        with open(os.path.join(fetched, name), "rb") as handle:
            pngs.append(handle.read())
    outputs = tf.saved_model.load(saved).signatures["serving_default"](tf.constant(pngs))
    probabilities = outputs["probabilities"].numpy()
    with open(os.path.join(saved, "thresholds.json")) as handle:
        chosen = json.load(handle)
    with open(os.path.join(pipeline["train_dir"], "thresholds.json")) as handle:
        raw = json.load(handle)
    # eval's Platt scaling is in the graph, its record beside it, and the thresholds moved
    # onto the calibrated scale: a finding is flagged where the raw probability was
    scaling = read_scaling(saved)
    assert scaling is not None and scaling.method == "platt"
    assert scaling == read_scaling(pipeline["train_dir"])
    assert set(scaling.platt) >= set(PLANTED)
    for name, value in raw["values"].items():
        moved = chosen["values"][name]
        assert (moved is None) if value is None else moved == pytest.approx(
            scaling.threshold(name, value))
    values = chosen["values"]
    limits = np.array([0.5 if values[n] is None else values[n] for n in info["class_names"]])
    assert probabilities.shape == (4, 14)
    assert np.array_equal(outputs["findings"].numpy(), probabilities >= limits)
