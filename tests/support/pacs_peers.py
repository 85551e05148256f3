"""Real PACS peers for the tests: an Orthanc from the Debian packages on free ports, and
dcmtk's command-line tools. Without them the tests skip, except under CI=true."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass

import pytest
import requests

DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
USER, PASSWORD = "medcv", "orthanc-test-secret"
ORTHANC_AET = "ORTHANC"
# Without it DIMSE transfers crawl at 10-20 instances/s (Nagle and delayed ACKs).
NODELAY = {"TCP_NODELAY": "1"}


def require_tool(name: str, path: str | None = None) -> str:
    found = path if path and os.path.exists(path) else shutil.which(name)
    if not found:
        message = f"{name} is not installed (bash scripts/ensure_pacs_tools.sh installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_for_later() -> int:
    """A free port for a server that starts later than its port is named (a PACS that is
    down at first): outside the kernel's range of ephemeral ports, so no outgoing
    connection made meanwhile can take it, as one did a port from `free_port`."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as handle:
            low = int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    candidates = list(range(max(1024, low - 12000), low))
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    return free_port()


@dataclass
class Orthanc:
    root: str
    http_port: int
    dicom_port: int
    name: str
    process: subprocess.Popen | None = None
    authentication: bool = True
    lua_scripts: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb(self) -> str:
        return f"dicomweb+http://127.0.0.1:{self.http_port}/dicom-web"

    @property
    def dimse(self) -> str:
        return f"dimse://{ORTHANC_AET}@127.0.0.1:{self.dicom_port}"

    def rest(self, method: str, path: str, **kwargs) -> requests.Response:
        response = requests.request(method, self.url + path, auth=(USER, PASSWORD), timeout=60,
                                    **kwargs)
        response.raise_for_status()
        return response

    def start(self) -> None:
        config = {
            "Name": self.name,
            "StorageDirectory": os.path.join(self.root, "storage"),
            "IndexDirectory": os.path.join(self.root, "storage"),
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "DicomAet": ORTHANC_AET,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": self.authentication,
            "RegisteredUsers": {USER: PASSWORD},
            "HttpCompressionEnabled": False,  # gzip made WADO-RS about 10x slower
            "DicomModalities": {},
            "DicomCheckModalityHost": False,
            "UnknownSopClassAccepted": True,
            "Plugins": [DICOMWEB_PLUGIN],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
            "StableAge": 1,
            "ConcurrentJobs": 2,
            "LuaScripts": list(self.lua_scripts),
        }
        os.makedirs(self.root, exist_ok=True)
        path = os.path.join(self.root, "orthanc.json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(config, handle)
        log = open(os.path.join(self.root, "orthanc.log"), "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [require_tool("Orthanc"), path], stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, **NODELAY}, cwd=self.root)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Orthanc exited: {self.log_tail()}")
            try:
                if self.rest("GET", "/system").json().get("Name") == self.name:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"Orthanc did not answer within 30 s: {self.log_tail()}")

    def log_tail(self) -> str:
        with open(os.path.join(self.root, "orthanc.log"), "rb") as handle:
            return handle.read()[-2000:].decode("utf-8", "replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def register(self, name: str, ae_title: str, port: int) -> None:
        self.rest("PUT", f"/modalities/{name}",
                  json={"AET": ae_title, "Host": "127.0.0.1", "Port": port})

    def upload(self, paths: list[str]) -> list[str]:
        """POST each file; returns the paths Orthanc stored."""
        stored = []
        for path in paths:
            with open(path, "rb") as handle:
                response = requests.post(self.url + "/instances", data=handle.read(),
                                         auth=(USER, PASSWORD), timeout=60)
            if response.status_code == 200:
                stored.append(path)
        return stored

    def find_instances(self, query: dict[str, str]) -> set[str]:
        """SOP Instance UIDs Orthanc's own /tools/find returns for `query`."""
        answer = self.rest("POST", "/tools/find", json={
            "Level": "Instance", "Query": query, "Expand": True, "CaseSensitive": True}).json()
        return {item["MainDicomTags"]["SOPInstanceUID"] for item in answer}

    def find_accessions(self) -> set[str]:
        answer = self.rest("POST", "/tools/find", json={
            "Level": "Study", "Query": {}, "Expand": True}).json()
        return {s["MainDicomTags"].get("AccessionNumber", "") for s in answer} - {""}

    def instance_count(self) -> int:
        return int(self.rest("GET", "/statistics").json()["CountInstances"])


def start_orthanc(root: str, authentication: bool = True,
                  lua_scripts: tuple[str, ...] = ()) -> Orthanc:
    require_tool("Orthanc")
    require_tool("libOrthancDicomWeb.so", DICOMWEB_PLUGIN)
    server = Orthanc(root, free_port(), free_port(), f"medcv-test-{uuid.uuid4().hex[:8]}",
                     authentication=authentication, lua_scripts=lua_scripts)
    server.start()
    return server


def self_signed_certificate(folder: str) -> tuple[str, str]:
    """(PEM of certificate and key, PEM of the certificate alone: the CA bundle a client
    needs), for 127.0.0.1."""
    openssl = require_tool("openssl")
    key, certificate = os.path.join(folder, "key.pem"), os.path.join(folder, "cert.pem")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", certificate], check=True, capture_output=True)
    both = os.path.join(folder, "server.pem")
    with open(both, "w", encoding="utf-8") as out:
        for part in (certificate, key):
            with open(part, encoding="utf-8") as handle:
                out.write(handle.read())
    return both, certificate


def pydicom_test_files() -> list[str]:
    """pydicom's bundled real files (from the installed package, nothing downloaded), one
    per SOP Instance UID: several share a UID with other content, which no PACS keeps."""
    import glob

    import pydicom
    from pydicom.data.data_manager import DATA_ROOT

    chosen: dict[str, str] = {}
    for path in sorted(glob.glob(os.path.join(DATA_ROOT, "test_files", "*.dcm"))):
        try:
            uid = str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)
        except Exception:
            continue
        chosen.setdefault(uid, path)
    return sorted(chosen.values())


def pacs_collection(root: str) -> list[str]:
    """What the test PACS holds: synthesized CR/DX studies (with dates, accession numbers,
    a few WHOLE BODY series, and the synthesizer's dirty metadata) plus pydicom's files."""
    import pydicom
    from pydicom.uid import generate_uid

    from dicom.synthetic.synthetic_dicom import SyntheticSpec, synthesize

    result = synthesize(os.path.join(root, "synthetic"), SyntheticSpec(
        num_images=24, seed=11, size=32, defects=False))
    whole_body = []
    for index, path in enumerate(result.images[:3]):
        ds = pydicom.dcmread(path)
        ds.BodyPartExamined = "WHOLE BODY"
        ds.StudyDescription = "NM WHOLE BODY BONE SCAN"
        ds.SeriesInstanceUID = generate_uid(entropy_srcs=[path, "series"])
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(
            entropy_srcs=[path, "sop"])
        target = os.path.join(root, f"whole_body_{index}.dcm")
        ds.save_as(target, enforce_file_format=True)
        whole_body.append(target)
    return [*result.images, *whole_body, *pydicom_test_files()]



class TlsFront:
    """https in front of Orthanc's http port, the way a hospital's reverse proxy serves
    it (Debian's Orthanc 1.10 crashes on its own first https request): TLS ends here,
    bytes go on to Orthanc unchanged."""

    def __init__(self, target_port: int, certificate_and_key: str) -> None:
        import ssl
        import threading

        self.target_port, self.port = target_port, free_port()
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(certificate_and_key)
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.listener.settimeout(0.2)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        import ssl
        import threading

        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            try:
                secure = self.context.wrap_socket(client, server_side=True)
            except (ssl.SSLError, OSError):
                client.close()  # the client refused our certificate
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for source, sink in ((secure, upstream), (upstream, secure)):
                threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()
        self.listener.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(1 << 16):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.close()
