"""/healthz and /metrics (Prometheus text format) for the node, on `metrics_port`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily


class NodeMetrics:
    def __init__(self, job_counts: Callable[[], dict[str, int]]) -> None:
        self.registry = CollectorRegistry()
        self.received = Counter("medcv_node_received_instances", "Instances acknowledged.",
                                registry=self.registry)
        self.refused = Counter("medcv_node_refused_instances", "Instances refused.",
                               registry=self.registry)
        self.store_failures = Counter("medcv_node_store_failures",
                                      "Stores that failed (down or refused).",
                                      registry=self.registry)
        self.inference_seconds = Histogram(
            "medcv_node_inference_seconds", "Model time per batch of stable jobs.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60), registry=self.registry)
        counts = job_counts

        class _Jobs:
            def collect(self):
                family = GaugeMetricFamily("medcv_node_jobs", "Jobs by state.",
                                           labels=["state"])
                for state, number in counts().items():
                    family.add_metric([state], number)
                yield family

        self.registry.register(_Jobs())


def serve(port: int, address: str, metrics: NodeMetrics,
          healthy: Callable[[], bool]) -> ThreadingHTTPServer:
    """Start the HTTP server in a thread; returns it (shutdown() stops it)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/metrics":
                body, status, kind = generate_latest(metrics.registry), 200, CONTENT_TYPE_LATEST
            elif self.path == "/healthz":
                ok = healthy()
                body, status, kind = (b"ok\n" if ok else b"unhealthy\n"), (200 if ok else 503), (
                    "text/plain")
            else:
                body, status, kind = b"not found\n", 404, "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # the console stays the node's own lines
            return

    server = ThreadingHTTPServer((address, port), Handler)
    threading.Thread(target=server.serve_forever, name="node-metrics", daemon=True).start()
    return server
