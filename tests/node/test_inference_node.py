"""The inference node as a hospital runs it: a real Orthanc forwards stable studies (the
Lua recipe of docs/node.md) or dcmtk's dcmsend pushes them; the node classifies the
stable ones its routes match and stores SRs into Orthanc.

- Routing: 20 studies; CR studies are routed, DX studies are not, a hostile instance is
  refused;
  each routed image's SR is in Orthanc under its study, referencing it, and dciodvfy
  finds no error in it.
- kill -9 mid-run, then a restart: Orthanc ends with exactly one SR per routed image.
- A destination that is down: jobs wait with backoff and deliver once it is up; one
  that always refuses: the job ends dead-letter with the reason, and --retry brings it
  back.
- STOW-RS in; a `per: study` route's SR (mean over the images) and a `results: seg`
  route's SEG, both in Orthanc and clean under dciodvfy.
"""

from __future__ import annotations

import glob
import os
import re
import time

import pydicom
import pytest
import requests

from dicom.synthetic.synthetic_dicom import SyntheticSpec, synthesize
from tests.support.cli import ROOT, run_module, spawn_module
from tests.support.dicom_results import dciodvfy_errors
from tests.support.model_cache import shared_model
from tests.support.pacs_peers import (
    Orthanc,
    free_port,
    port_for_later,
    require_tool,
    start_orthanc,
)
from tests.support.pacs_runs import push
from tests.support.tiny_models import BODY_PART_CLASSIFIER, CARDIAC_UNET

pytestmark = pytest.mark.slow

SR_CLASS = "1.2.840.10008.5.1.4.1.1.88.33"  # Comprehensive SR


@pytest.fixture(scope="module")
def setting(tmp_path_factory) -> dict:
    require_tool("dcmsend")
    root = tmp_path_factory.mktemp("node")
    train_dir = shared_model(BODY_PART_CLASSIFIER, tmp_path_factory).train_dir  # read only
    # 6 studies of 4 images: 3 CR (routed), 3 DX (not)
    synthetic = synthesize(str(root / "dicom"), SyntheticSpec(num_images=24, size=64,
                                                              defects=False))
    by_modality: dict[str, list[str]] = {"CR": [], "DX": []}
    for path in synthetic.images:
        by_modality[str(pydicom.dcmread(path, stop_before_pixels=True).Modality)].append(path)
    hostile = pydicom.dcmread(by_modality["CR"][0])
    del hostile.StudyInstanceUID  # the node cannot file it under a study
    hostile.SOPInstanceUID = pydicom.uid.generate_uid()
    hostile.save_as(str(root / "hostile.dcm"))
    # the PACS of docs/node.md's recipe: it forwards each stable study to the node
    orthanc = start_orthanc(str(root / "orthanc"), authentication=False,
                            lua_scripts=(os.path.join(ROOT, "docs", "orthanc",
                                                      "forward_to_node.lua"),))
    yield {"root": root, "model": train_dir, "cr": sorted(by_modality["CR"]),
           "dx": sorted(by_modality["DX"]), "hostile": str(root / "hostile.dcm"),
           "orthanc": orthanc}
    orthanc.stop()


def _config(path, model: str, routes: dict[str, str], database: str | None = None,
            **extra) -> str:
    """node.yaml with one route per (name -> store_to), each taking the CR studies."""
    port = free_port()
    database = database or f"sqlite:///{path / 'node.sqlite'}"
    lines = [f"listen: {{ae_title: MEDCV_AI, port: {port}, address: 127.0.0.1}}",
             "stable_seconds: 1", f"database: {database}",
             f"spool: {path / 'spool'}", "min_free_mb: 1", "max_wait_ms: 50",
             *(f"{k}: {v}" for k, v in extra.items()), "routes:"]
    for name, store_to in routes.items():
        lines += [f"  - name: {name}", "    match: {Modality: CR}", f"    model: {model}",
                  "    per: image", f"    store_to: {store_to}"]
    os.makedirs(path, exist_ok=True)
    config = path / "node.yaml"
    config.write_text("\n".join(lines) + "\n")
    return str(config)


class Node:
    def __init__(self, config: str) -> None:
        self.config = config
        with open(config) as handle:
            self.port = int(handle.read().split("port: ")[1].split(",")[0])
        # forked warm (its TensorFlow imported once per test worker); signals as any process
        self.process = spawn_module("inference_node", f"--config={config}", stdout_lines=True)
        self.lines: list[str] = []
        line = self.process.stdout.readline()
        while line and not line.startswith("listening"):
            self.lines.append(line)
            line = self.process.stdout.readline()
        assert line.startswith("listening"), self.process.communicate()[1][-3000:]

    def stop(self) -> str:
        self.process.terminate()
        out, err = self.process.communicate(timeout=60)
        assert self.process.returncode == 0, err[-3000:]
        return out

    def kill(self) -> None:
        self.process.kill()
        self.process.communicate()


def _status(config: str) -> str:
    result = run_module("inference_node", f"--config={config}", "--status")
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def _srs(orthanc: Orthanc) -> list[dict]:
    """Orthanc's SR instances: their tags."""
    found = orthanc.rest("POST", "/tools/find", json={
        "Level": "Instance", "Query": {"Modality": "SR"}, "Expand": True}).json()
    return [orthanc.rest("GET", f"/instances/{i['ID']}/simplified-tags").json() for i in found]


def _wait(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _clear(orthanc: Orthanc) -> None:
    for study in orthanc.rest("GET", "/studies").json():
        orthanc.rest("DELETE", f"/studies/{study}")


def _wait_for_line(node: Node, text: str, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = node.process.stdout.readline()
        node.lines.append(line)
        if text in line:
            return line
        if not line:
            break
    raise AssertionError(f"no line with {text!r}: {''.join(node.lines[-20:])}")


def test_routed_studies_get_their_srs_and_a_refusing_route_ends_dead(setting, tmp_path):
    """docs/node.md's recipe: Orthanc forwards each stable study to the node, 20 studies
    of mixed kinds (3 CR and 3 DX of 4 images, 7 CR and 7 DX of one). Two routes take the
    CR studies: one stores back into that Orthanc, the other into an Orthanc that
    refuses us (it wants a password); DX studies match no route; a hostile file pushed
    straight to the node is refused."""
    orthanc = setting["orthanc"]
    _clear(orthanc)
    extra = synthesize(str(tmp_path / "single"), SyntheticSpec(
        num_images=14, size=64, defects=False, images_per_study=1, seed=9)).images
    extra_cr = [p for p in extra
                if str(pydicom.dcmread(p, stop_before_pixels=True).Modality) == "CR"]
    cr_files = [*setting["cr"], *extra_cr]
    routed = 3 + len(extra_cr)  # CR studies
    unrouted = 3 + len(extra) - len(extra_cr)
    guarded = start_orthanc(str(tmp_path / "guarded"), authentication=True)
    config = _config(tmp_path, setting["model"],
                     {"cr-classes": orthanc.dicomweb, "cr-elsewhere": guarded.dicomweb},
                     metrics_port=free_port(), max_attempts=2, backoff_seconds=0.2,
                     max_backoff_seconds=0.5)
    node = Node(config)
    try:
        orthanc.register("medcv-node", "MEDCV_AI", node.port)  # the recipe's modality
        # the studies reach Orthanc, which forwards each once stable (docs/node.md)
        assert len(orthanc.upload([*setting["cr"], *setting["dx"], *extra])) == 38
        pushed = push("dcmsend", node.port, [setting["hostile"]])  # and a stranger's file
        assert "with status ERROR    : 1" in pushed.stderr, pushed.stderr[-2000:]  # refused
        srs = _wait(lambda: len(_srs(orthanc)) >= len(cr_files) and _srs(orthanc), 90,
                    "an SR per CR image in Orthanc")
        _wait(lambda: f"dead {routed}" in _status(config), 60, "a dead job per CR study")
        # the SRs made the CR studies stable again, and Orthanc sent them back: the node
        # ignores its own results and the instances it has, so nothing more comes
        with open(config) as handle:
            metrics_port = int(handle.read().split("metrics_port: ")[1].split()[0])

        def received() -> float:
            text = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
            return float(re.search(r"^medcv_node_received_instances_total (\S+)$", text,
                                   re.MULTILINE).group(1))

        _wait(lambda: received() >= 38 + len(cr_files), 60,
              "Orthanc's forwards of the CR studies again")
        time.sleep(4)
        assert len(_srs(orthanc)) == len(cr_files)
        metrics = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
        health = requests.get(f"http://127.0.0.1:{metrics_port}/healthz", timeout=10)
    finally:
        out = node.stop()
        guarded.stop()
    assert health.status_code == 200
    total = float(re.search(r"^medcv_node_received_instances_total (\S+)$", metrics,
                            re.MULTILINE).group(1))
    assert total == 38 + len(cr_files)  # each study once, the CR ones again
    assert "medcv_node_refused_instances_total 1.0" in metrics
    assert f'medcv_node_jobs{{state="stored"}} {float(routed)}' in metrics
    assert "refused instance" in out and "no Study Instance UID" in out
    assert out.count("no route matches") == unrouted  # the DX studies, dropped
    assert "generation 2" not in out  # the studies sent back reopened nothing
    assert out.count("dead after 2 attempts") == routed and "401" in out
    cr = {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID): p
          for p in cr_files}
    studies = {str(pydicom.dcmread(p, stop_before_pixels=True).StudyInstanceUID)
               for p in cr_files}
    assert len(srs) == len(cr_files) and {s["StudyInstanceUID"] for s in srs} == studies
    referenced = set()
    for sr in srs:
        instance = orthanc.rest("POST", "/tools/find", json={
            "Level": "Instance", "Query": {"SOPInstanceUID": sr["SOPInstanceUID"]}}).json()[0]
        path = tmp_path / f"{sr['SOPInstanceUID']}.dcm"
        path.write_bytes(orthanc.rest("GET", f"/instances/{instance}/file").content)
        ds = pydicom.dcmread(path)
        referenced |= {str(item.ReferencedSOPInstanceUID)
                       for study in ds.CurrentRequestedProcedureEvidenceSequence
                       for series in study.ReferencedSeriesSequence
                       for item in series.ReferencedSOPSequence}
    assert referenced == set(cr)
    assert dciodvfy_errors(str(path)) == []
    status = _status(config)
    assert f"stored {routed}" in status and f"dead {routed}" in status
    assert "last error: store to" in status
    retried = run_module("inference_node", f"--config={config}", "--retry=dead")
    assert f"{routed} job(s) due again" in retried.stdout
    assert f"written {routed}" in _status(config)  # due again, for the next start


def test_kill_9_in_inference_and_a_down_pacs_end_with_one_result_per_image(setting,
                                                                           tmp_path):
    """kill -9 once the first studies' inference has started; the restarted node takes its jobs
    back, finds the PACS down and waits with backoff; once the PACS is up, a kill -9 while
    it stores, and a restart: Orthanc holds exactly one SR per routed image. Then a late
    instance reopens its study, whose next generation gives superseding SRs for all its
    images."""
    later = Orthanc(str(tmp_path / "later"), port_for_later(), port_for_later(), "medcv-later",
                    authentication=False)  # its ports chosen; nothing listens yet
    config = _config(tmp_path, setting["model"], {"cr-classes": later.dicomweb},
                     backoff_seconds=0.5, max_backoff_seconds=2, max_attempts=100)
    node = Node(config)
    push("dcmsend", node.port, setting["cr"])
    _wait_for_line(node, ": inferring", 30)  # the jobs are claimed: kill it now
    node.kill()
    node = Node(config)
    try:
        assert any("took back" in line for line in node.lines)  # the jobs it held
        _wait_for_line(node, "will retry", 60)  # the PACS is down: the store failed
        status = _status(config)
        assert "written" in status and "last error: store to" in status, status
        later.start()
        _wait_for_line(node, "results stored to", 60)  # storing: kill -9 it again
        node.kill()
        node = Node(config)
        _wait(lambda: len(_srs(later)) >= 12, 90, "12 SRs once the PACS is up")
        time.sleep(2)  # nothing more arrives
        srs = _srs(later)
        assert len(srs) == 12 and len({s["SOPInstanceUID"] for s in srs}) == 12
        # a late instance of the first study: its next generation covers all five images
        late = pydicom.dcmread(setting["cr"][0])
        late.SOPInstanceUID = late.file_meta.MediaStorageSOPInstanceUID = (
            pydicom.uid.generate_uid())
        late.save_as(str(tmp_path / "late.dcm"))
        push("dcmsend", node.port, [str(tmp_path / "late.dcm")])
        _wait_for_line(node, "(generation 2: supersedes)", 30)
        _wait(lambda: len(_srs(later)) >= 17, 60, "the superseding SRs")
        after = _srs(later)
    finally:
        node.stop()
        later.stop()
    study = str(late.StudyInstanceUID)
    first = {s["SeriesInstanceUID"] for s in srs if s["StudyInstanceUID"] == study}
    newer = [s for s in after if s["StudyInstanceUID"] == study
             and s["SeriesInstanceUID"] not in first]
    assert len(after) == 17 and len(newer) == 5  # one per image, in a series of their own
    assert "stored 4" in _status(config)


def test_stowrs_in_a_study_level_sr_and_a_seg_route(setting, tmp_path, tmp_path_factory):
    """Studies arrive by STOW-RS (dicomweb-client, as a DICOMweb sender does): the CR
    studies go to a `per: study` route (mean of the images), a cardiac MR series to a
    `results: seg` route. Orthanc ends with one SR per CR study, which opens with the
    study's mean probabilities over all its images, and one SEG over the series; dciodvfy
    finds no error in either."""
    from dicomweb_client.api import DICOMwebClient

    from tests.support.dicom_results import sr_measurements

    cardiac = shared_model(CARDIAC_UNET, tmp_path_factory)
    unet = cardiac.train_dir  # read only
    first_patient = sorted(glob.glob(os.path.join(cardiac.root, "raw", "dicoms", "*")))[0]
    series = sorted(glob.glob(os.path.join(first_patient, "*.dcm")))  # one series, 4 slices
    pacs = start_orthanc(str(tmp_path / "pacs"), authentication=False)
    port, stow = free_port(), free_port()
    config = tmp_path / "node.yaml"
    config.write_text("\n".join([
        f"listen: {{ae_title: MEDCV_AI, port: {port}, address: 127.0.0.1}}",
        f"stowrs_port: {stow}", "stable_seconds: 1",
        f"database: sqlite:///{tmp_path / 'node.sqlite'}", f"spool: {tmp_path / 'spool'}",
        "min_free_mb: 1", "routes:",
        "  - name: cr-study", "    match: {Modality: CR}", f"    model: {setting['model']}",
        "    per: study", "    aggregate: mean", f"    store_to: {pacs.dicomweb}",
        "  - name: cardiac-seg", "    match: {Modality: MR}", f"    model: {unet}",
        "    results: seg", f"    store_to: {pacs.dicomweb}"]) + "\n")
    node = Node(str(config))
    try:
        client = DICOMwebClient(url=f"http://127.0.0.1:{stow}/dicom-web")
        for paths in (setting["cr"], series):
            reply = client.store_instances([pydicom.dcmread(p) for p in paths])
            assert len(reply.ReferencedSOPSequence) == len(paths)
        found = _wait(lambda: (len(_srs(pacs)) >= 3 and pacs.rest("POST", "/tools/find", json={
            "Level": "Instance", "Query": {"Modality": "SEG"}}).json()), 120, "3 SRs and a SEG")
        srs = _srs(pacs)
        files = []
        for instance in [*(s for s in (pacs.rest("POST", "/tools/find", json={
                "Level": "Instance", "Query": {"SOPInstanceUID": sr["SOPInstanceUID"]}}
                ).json()[0] for sr in srs)), *found]:
            path = tmp_path / f"{instance}.dcm"
            path.write_bytes(pacs.rest("GET", f"/instances/{instance}/file").content)
            files.append(str(path))
    finally:
        node.stop()
        pacs.stop()
    assert len(srs) == 3 and len(found) == 1
    for path in files:
        assert dciodvfy_errors(path) == [], path
    studies = {}
    for path in setting["cr"]:
        header = pydicom.dcmread(path, stop_before_pixels=True)
        studies.setdefault(str(header.StudyInstanceUID), []).append(str(header.SOPInstanceUID))
    import highdicom as hd
    import numpy as np

    for path in files[:3]:
        report = hd.sr.srread(path)
        study_group, *image_groups = report.content.get_image_measurement_groups()
        images = {s.referenced_sop_instance_uid for s in study_group.source_images}
        assert sorted(images) == sorted(studies[str(report.StudyInstanceUID)])
        assert {m.derivation.meaning for m in study_group.get_measurements()} == {"Mean"}
        per_image = sr_measurements(path)  # the image groups, by source
        means = {m.name.meaning: float(m.value) for m in study_group.get_measurements()}
        assert len(image_groups) == 4
        for name, value in means.items():
            assert value == pytest.approx(np.mean([per_image[i][name] for i in images]),
                                          abs=1e-6)
    seg = pydicom.dcmread(files[3])
    assert seg.Modality == "SEG" and {
        str(i.ReferencedSOPInstanceUID) for i in seg.ReferencedSeriesSequence[0]
        .ReferencedInstanceSequence} == {
        str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in series}


def test_two_nodes_on_one_mariadb_queue_share_the_work_and_run_no_job_twice(
        setting, mysql_url, tmp_path):
    """Two node processes, each with its spool, on one MariaDB queue; the CR studies are
    pushed half to each. Two routes make six jobs, claimed one at a time: both nodes
    infer, each job is written once (the audit names the node), and the PACS holds one
    SR per image and route."""
    import sqlalchemy as sa

    pacs = start_orthanc(str(tmp_path / "pacs"), authentication=False)
    routes = {"cr-first": pacs.dicomweb, "cr-second": pacs.dicomweb}
    nodes = [Node(_config(tmp_path / name, setting["model"], routes, database=mysql_url,
                          max_batch=1, max_wait_ms=0)) for name in ("a", "b")]
    try:
        push("dcmsend", nodes[0].port, setting["cr"][:8])
        push("dcmsend", nodes[1].port, setting["cr"][8:])
        srs = _wait(lambda: len(_srs(pacs)) >= 24 and _srs(pacs), 120, "24 SRs")
        time.sleep(2)  # nothing more arrives
        assert len(_srs(pacs)) == 24
    finally:
        outs = [node.stop() for node in nodes]
        pacs.stop()
    assert len({s["SOPInstanceUID"] for s in srs}) == 24
    assert all(": inferring" in out for out in outs), outs  # both did work
    engine = sa.create_engine(mysql_url)
    with engine.connect() as connection:
        written = connection.execute(sa.text(
            "SELECT study_uid, route, node FROM node_audit WHERE event = 'written'")).all()
        states = connection.execute(sa.text("SELECT state FROM node_jobs")).scalars().all()
    engine.dispose()
    assert len(written) == 6 and len({(s, r) for s, r, _ in written}) == 6
    assert len({node for _, _, node in written}) == 2
    assert states == ["stored"] * 6
