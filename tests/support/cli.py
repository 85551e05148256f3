"""Run the project's CLIs as a user would: a subprocess from the repository root."""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import tempfile

from tests.support.warm_start import WARM_MODULES, WarmStarter

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_STARTER: list[WarmStarter] = []


def _warm_starter() -> WarmStarter:
    """This test process's warm starter, made on first use and closed at exit."""
    if not _STARTER:
        _STARTER.append(WarmStarter(ROOT))
        atexit.register(_STARTER[0].close)
    return _STARTER[0]


def run_module(
    module: str, *args: str, env: dict[str, str] | None = None, timeout: int = 300,
    fresh: bool = False,
) -> subprocess.CompletedProcess[str]:
    """`python -m module args` from the repository root, as a user runs it. A TensorFlow
    command runs warm (tests/support/warm_start.py) unless `fresh`: a test of what the
    console shows at start-up needs a fresh interpreter."""
    environment = {**os.environ, "PYTHONPATH": ROOT, **(env or {})}
    if module in WARM_MODULES and not fresh:
        return _warm_starter().run(module, list(args), environment, timeout)
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def spawn_module(module: str, *args: str, env: dict[str, str] | None = None,
                 stdout_lines: bool = False):
    """`subprocess.Popen([python, -m, module, ...])` from the repository root, forked warm
    (tests/support/warm_start.py): for a command a test kills, signals or reads line by
    line while it runs (a node, a training worker)."""
    environment = {**os.environ, "PYTHONPATH": ROOT, **(env or {})}
    return _warm_starter().spawn(module, list(args), environment, ROOT, stdout_lines)


def run_offline(*command: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """`command` in a network namespace with loopback only (Beam's local workers talk
    over it): whatever tries to reach another host fails. Skips where `unshare --net` is
    not permitted, except under CI=true, where that fails."""
    import pytest

    from tests.support.pacs_peers import require_tool

    unshare = require_tool("unshare")
    if subprocess.run([unshare, "--net", "true"], capture_output=True).returncode != 0:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("unshare --net is not permitted here")
        pytest.skip("unshare --net is not permitted here")
    script = "ip link set lo up && exec " + " ".join(f"'{c}'" for c in command)
    return subprocess.run([unshare, "--net", "sh", "-c", script], capture_output=True,
                          text=True, cwd=ROOT, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": ROOT})


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


# Forked from the test process, a child's peak RSS starts at the test process's own (shared
# pages count until exec), and the peak survives exec: the CLI is started from this small
# launcher instead, which reports the CLI's own peak (and its waited-for workers').
_MEASURING_LAUNCHER = """
import os, resource, signal, sys
cap, report, command = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
pid = os.fork()
if pid == 0:
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    os.execv(command[0], command)
_, status, usage = os.wait4(pid, 0)
with open(report, "w") as handle:
    handle.write(str(usage.ru_maxrss * 1024))
if os.WIFSIGNALED(status):
    signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
    os.kill(os.getpid(), os.WTERMSIG(status))
sys.exit(os.WEXITSTATUS(status))
"""


def run_module_measured(
    module: str, *args: str, address_space_gb: float = 6.0, timeout: float = 300.0
) -> tuple[subprocess.CompletedProcess[str], int]:
    """Run a CLI under an address-space cap; returns the result and its peak RSS in bytes:
    the largest of the CLI and the workers it waited for, so nothing else counts."""
    cap = int(address_space_gb * (1 << 30))
    environment = {**os.environ, "PYTHONPATH": ROOT}
    with tempfile.TemporaryDirectory() as scratch:
        report = os.path.join(scratch, "peak")
        command = [sys.executable, "-c", _MEASURING_LAUNCHER, str(cap), report,
                   sys.executable, "-m", module, *args]
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the launcher and the CLI under it
            process.communicate()
            raise
        result = subprocess.CompletedProcess(command, process.returncode, out, err)
        with open(report) as handle:
            peak = int(handle.read())
    return result, peak
