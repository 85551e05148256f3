"""Training with several TF_CONFIG workers on localhost ports, as a user would start them."""

from __future__ import annotations

import json
import os
import socket

from tests.support.cli import ROOT, spawn_module
from tests.support.warm_start import WarmProcess


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_workers(arguments: list[str], scratch, workers: int = 2) -> list[WarmProcess]:
    """`train_image_classifier ARGUMENTS` once per worker (one process without TF_CONFIG
    when `workers` is 1), each forked warm (tests/support/warm_start.py)."""
    ports = free_ports(workers)
    processes = []
    for index in range(workers):
        env = {**os.environ, "PYTHONPATH": ROOT, "TMPDIR": str(scratch)}
        if workers > 1:
            env["TF_CONFIG"] = json.dumps({
                "cluster": {"worker": [f"localhost:{port}" for port in ports]},
                "task": {"type": "worker", "index": index}})
        processes.append(spawn_module("train_image_classifier", *arguments, env=env))
    return processes


def finish(processes: list[WarmProcess], timeout: float = 240) -> list[tuple[str, str]]:
    outputs = [p.communicate(timeout=timeout) for p in processes]
    for process, (_, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err[-3000:]
    return outputs
