"""node.yaml as a user writes it, and each mistake as one line naming the key."""

from __future__ import annotations

import pytest

from node.config import ConfigError, load_config

GOOD = """
listen: {ae_title: MEDCV_AI, port: 11112}
stable_seconds: 10
database: sqlite:///node.sqlite
spool: node_spool
routes:
  - name: chest-findings
    match: {Modality: [CR, DX], BodyPartExamined: CHEST, Rows: ">=1024"}
    model: exports/chest_findings
    per: image
    results: sr
    store_to: dicomweb+http://pacs:8042/dicom-web
"""


def _write(tmp_path, text: str) -> str:
    (tmp_path / "exports" / "chest_findings").mkdir(parents=True, exist_ok=True)
    path = tmp_path / "node.yaml"
    path.write_text(text)
    return str(path)


def test_the_issue_s_example_loads_with_paths_beside_the_file(tmp_path):
    config = load_config(_write(tmp_path, GOOD))
    assert (config.ae_title, config.port, config.stable_seconds) == ("MEDCV_AI", 11112, 10.0)
    assert config.database == f"sqlite:///{tmp_path}/node.sqlite"
    assert config.spool == str(tmp_path / "node_spool")
    (route,) = config.routes
    assert route.model == str(tmp_path / "exports" / "chest_findings")
    assert route.match["Modality"].accepts("dx") and not route.match["Modality"].accepts("CT")
    assert route.match["Rows"].accepts("2048") and not route.match["Rows"].accepts("512")


@pytest.mark.parametrize(("change", "message"), [
    (("per: image", "per: series"), "routes[0].per: 'series' is not one of image, study"),
    (("stable_seconds: 10", "stable_secs: 10"), "stable_secs: unknown key"),
    (("model: exports/chest_findings", "model: exports/missing"),
     "routes[0].model: {root}/exports/missing does not exist"),
    (("port: 11112", "port: 70000"), "listen.port: 70000 is above 65535"),
    (("stable_seconds: 10", "stable_seconds: soon"), "stable_seconds: 'soon' is not a number"),
    (("BodyPartExamined: CHEST", "BodyPartExamind: CHEST"),
     "routes[0].match.BodyPartExamind: not a DICOM keyword"),
    (("dicomweb+http://pacs:8042/dicom-web", "ftp://pacs"), "routes[0].store_to"),
    (("results: sr", "results: sr-and-seg"),
     "routes[0].results: 'sr-and-seg' is not one of sr, seg"),
    (("per: image", "per: image\n    aggregate: max"),
     "routes[0].aggregate: aggregates a study's images; it needs per: study"),
    (("per: image", "per: study\n    aggregate: median"),
     "routes[0].aggregate: 'median' is not one of max, mean"),
    (("per: image\n    results: sr", "per: study\n    results: seg"),
     "routes[0].per: a seg route segments each image"),
    (("stable_seconds: 10", "stowrs_port: 11112"), "stowrs_port: 11112 is taken by another"),
    (("match: {", "match: {{"), "not YAML at line"),
])
def test_a_bad_key_is_one_line_naming_it(tmp_path, change, message):
    path = _write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert "\n" not in text and text.startswith(f"{path}: ")
    assert message.format(root=tmp_path) in text, text


def test_stowrs_a_study_route_and_a_seg_route_load(tmp_path):
    text = GOOD.replace("stable_seconds: 10", "stowrs_port: 8080") + (
        "  - name: study-mean\n    match: {Modality: CR}\n    model: exports/chest_findings\n"
        "    per: study\n    aggregate: mean\n"
        "  - name: lungs\n    match: {Modality: CT}\n    model: exports/chest_findings\n"
        "    results: seg\n    seg_type: fractional\n")
    config = load_config(_write(tmp_path, text))
    assert config.stowrs_port == 8080
    first, study, seg = config.routes
    assert (first.per, first.aggregate, first.results) == ("image", "max", "sr")
    assert (study.per, study.aggregate) == ("study", "mean")
    assert (seg.results, seg.seg_type, seg.per) == ("seg", "fractional", "image")


def test_a_route_whose_results_do_not_fit_its_model_is_refused(tmp_path):
    path = _write(tmp_path, GOOD)
    (tmp_path / "exports" / "chest_findings" / "medcv_model.json").write_text(
        '{"model_name": "unet", "task": "segmentation"}')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"{path}: routes[0].results: sr does not fit {tmp_path}/exports/chest_findings, a "
        "segmentation model (seg does)")


def test_two_routes_of_one_name_and_no_routes_are_refused(tmp_path):
    twice = GOOD + GOOD[GOOD.index("  - name"):]
    with pytest.raises(ConfigError, match="two routes are named 'chest-findings'"):
        load_config(_write(tmp_path, twice))
    with pytest.raises(ConfigError, match="routes: at least one route is required"):
        load_config(_write(tmp_path, GOOD[:GOOD.index("routes:")]))
