"""Run the project's CLIs as a user would: a subprocess from the repository root."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_module(
    module: str, *args: str, env: dict[str, str] | None = None, timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": ROOT, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _as_from_a_shell() -> None:
    """Ctrl-C as a shell delivers it: a test runner's worker (pytest-xdist's) may ignore
    SIGINT, and a child inherits that, so Python would never raise KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def popen_module(module: str, *args: str) -> subprocess.Popen[str]:
    environment = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_as_from_a_shell,
    )


def run_module_measured(
    module: str, *args: str, address_space_gb: float = 6.0, timeout: float = 300.0
) -> tuple[subprocess.CompletedProcess[str], int]:
    """Run a CLI under an address-space cap; returns the result and its peak RSS in bytes.

    The peak is the largest of the process and the children it waited for
    (its workers), read from `wait4`, so nothing else this test run started counts.
    """
    cap = int(address_space_gb * (1 << 30))

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    environment = {**os.environ, "PYTHONPATH": ROOT}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=ROOT, env=environment, stdout=out, stderr=err, text=True, preexec_fn=limit,
        )
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                process.kill()
                raise subprocess.TimeoutExpired(process.args, timeout)
            time.sleep(0.05)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        result = subprocess.CompletedProcess(process.args, process.returncode, out.read(),
                                             err.read())
    return result, usage.ru_maxrss * 1024
