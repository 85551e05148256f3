"""Every command runs TensorFlow's oneDNN CPU kernels (console.cpu_kernels), and a user's
TF_ENABLE_ONEDNN_OPTS stands: checked in TensorFlow itself, in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.cli import ROOT

PROBE = """
import console.quiet_start
from tensorflow.python.util import _pywrap_util_port
print(_pywrap_util_port.IsMklEnabled())
"""


@pytest.mark.parametrize(("chosen", "expected"), [(None, "True"), ("0", "False")])
def test_commands_run_onednn_unless_the_user_chose(chosen, expected):
    environment = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if chosen is not None:
        environment["TF_ENABLE_ONEDNN_OPTS"] = chosen
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True,
                            text=True, env={**environment, "PYTHONPATH": ROOT}, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == expected
