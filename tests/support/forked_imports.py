"""Import each of several modules in a child of its own, forked after one TensorFlow
import: each module defines its flags in a fresh process, and TensorFlow's start-up is
paid once, not once per module."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from tests.support.cli import ROOT


def each_imported(modules: list[str], report: str) -> list[str]:
    """The line each child prints after importing its module: `report` is Python run
    there with `name` (the module's name) and `module` (the module) bound, and prints
    one line. Fails the caller's test when the probe does."""
    probe = ("import importlib, os, sys; sys.argv = ['probe']\n"
             "import tensorflow\n"
             f"for name in {modules!r}:\n"
             "    if os.fork() == 0:\n"
             "        module = importlib.import_module(name)\n"
             + textwrap.indent(textwrap.dedent(report).strip(), " " * 8) + "\n"
             "        sys.stdout.flush()\n"
             "        os._exit(0)\n"
             "    os.wait()\n")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                            text=True, env={**os.environ, "PYTHONPATH": ROOT}, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-len(modules):]
