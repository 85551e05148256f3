"""One Orthanc for the PACS tests, loaded once: started from the Debian packages with a
temporary config, stopped by PID."""

from __future__ import annotations

import pytest

from tests.support.pacs_peers import Orthanc, pacs_collection, start_orthanc


@pytest.fixture(scope="session")
def loaded_orthanc(tmp_path_factory) -> Orthanc:
    server = start_orthanc(str(tmp_path_factory.mktemp("orthanc")))
    try:
        files = pacs_collection(str(tmp_path_factory.mktemp("pacs_files")))
        server.stored_files = server.upload(files)
        yield server
    finally:
        server.stop()
