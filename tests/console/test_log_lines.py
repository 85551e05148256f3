"""A command's log lines are plain, library chatter is off, and --verbosity=1 brings both
back: run as a command runs (absl's app.run after console.quiet_start)."""

from __future__ import annotations

import subprocess
import sys

from tests.support.cli import ROOT

COMMAND = """
import console.quiet_start
import logging
from absl import app, logging as absl_logging

def main(argv):
    logging.getLogger("training.loop.trainer").info("step 2: loss 0.5")
    logging.getLogger("training.loop.trainer").warning("the loss is NaN")
    absl_logging.info("Writing fingerprint to /x/fingerprint.pb")  # TF logs through absl
    absl_logging.set_verbosity(absl_logging.INFO)  # as TF's SavedModel code does
    absl_logging.info("Assets written to: /x/assets")
    tf = logging.getLogger("tensorflow")
    tf.info("Sharding callback duration: 101 microseconds")
    tf.warning("Function `_serve` contains input name(s) resource with unsupported characters")
    tf.warning("5 out of the last 5 calls triggered tf.function retracing")
    print("done", flush=True)

app.run(main)
"""


def _run(*flags: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", COMMAND, *flags], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stderr.splitlines()


def test_plain_lines_and_no_library_information_by_default():
    assert _run() == ["step 2: loss 0.5", "warning: the loss is NaN",
                      "warning: 5 out of the last 5 calls triggered tf.function retracing"]


def test_verbosity_one_gives_absls_prefixed_lines_and_every_library_line():
    lines = _run("--verbosity=1")
    assert len(lines) == 7
    assert lines[0].startswith("I") and lines[0].endswith("] step 2: loss 0.5")
    assert any("Writing fingerprint" in line for line in lines)
    assert any("Sharding callback" in line for line in lines)
