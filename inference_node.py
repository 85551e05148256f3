"""Run models on studies as they arrive, and put the results back into the PACS.

    python inference_node.py --config node.yaml
    python inference_node.py --config node.yaml --status
    python inference_node.py --config node.yaml --retry 12     (or --retry dead)
    python inference_node.py --config node.yaml --drop 12

Instances arrive by C-STORE and are acknowledged only once durable (spool and queue).
A study quiet for `stable_seconds` goes to every route whose `match` one of its
instances satisfies; the route's model classifies its images, in batches shared with
the other studies that became stable together, and its SRs are stored to the route's
`store_to`. The queue lives in `database` (SQLite by default; MySQL/MariaDB or
PostgreSQL for several nodes); a killed node, restarted, finishes what it had.
SIGTERM drains and exits. docs/node.md has the configuration and an Orthanc recipe.
"""

from __future__ import annotations

import logging
import signal

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from console.errors import require_no_arguments, run_cli

FLAGS = flags.FLAGS
flags.DEFINE_string("config", None, "The node's YAML configuration (docs/node.md).")
flags.DEFINE_boolean("status", False, "List the queue (jobs by state, the latest jobs) and "
                     "exit.")
flags.DEFINE_string("retry", None, "Make a job due again, attempts reset: its id, or `dead` "
                    "for every dead-letter job; then exit.")
flags.DEFINE_integer("drop", None, "Remove a job from the queue; then exit.")


def _status(queue) -> None:
    counts = queue.counts()
    print("jobs: " + ", ".join(f"{state} {number}" for state, number in counts.items()))
    for job in queue.listing(50):
        error = f"  last error: {job['last_error']}" if job["last_error"] else ""
        print(f"  job {job['id']}: {job['state']:9s} route {job['route']}, study "
              f"{job['study_uid']} (generation {job['generation']}), "
              f"{job['attempts']} failed attempt(s){error}")


def main(argv: list[str]) -> int:
    """Runs the inference node from its config until stopped, or answers --status, --retry or
    --drop; returns the exit code."""
    require_no_arguments(argv)

    def run() -> int:
        from node.config import load_config
        from node.runner import InferenceNode, node_name

        if not FLAGS.config:
            raise ValueError("--config is required: the node's YAML file (docs/node.md)")
        config = load_config(FLAGS.config)
        if FLAGS.status or FLAGS.retry or FLAGS.drop is not None:
            from node.job_queue import JobQueue

            queue = JobQueue(config.database, node_name(config))
            queue.create()
            if FLAGS.retry:
                if FLAGS.retry != "dead" and not FLAGS.retry.isdigit():
                    raise ValueError(f"--retry {FLAGS.retry!r}: a job id or `dead`")
                print(f"{queue.retry(FLAGS.retry)} job(s) due again")
            if FLAGS.drop is not None:
                print(f"{queue.drop(FLAGS.drop)} job(s) dropped")
            if FLAGS.status:
                _status(queue)
            return 0
        logging.getLogger("pynetdicom").setLevel(logging.WARNING)
        node = InferenceNode(config)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: node.stopping.set())
        return node.run()

    return run_cli(run)


if __name__ == "__main__":
    app.run(main)
