"""The flags that choose Beam over the native process pools (create_database,
tf_convert_data)."""

from __future__ import annotations

from absl import flags

# Flags defined here belong to the command that asks for them (its --help lists them).
flags.disclaim_key_flags()

RUNNERS = ("native", "beam")


def define_beam_flags() -> None:
    """--runner, --beam_pipeline_options, --direct_num_workers and --beam_temp_location."""
    flags.DEFINE_enum(
        "runner", "native", list(RUNNERS),
        "native: this machine's process pool (the default). beam: the same per-file work as "
        "an Apache Beam pipeline; locally on the FnApiRunner (nothing is downloaded), or on "
        "Dataflow, Flink or Spark through --beam_pipeline_options (see docs/scaling.md).")
    flags.DEFINE_integer(
        "direct_num_workers", 1,
        "--runner=beam on the local FnApiRunner: 1 runs in this process, N > 1 in N worker "
        "processes (multi_processing mode).", lower_bound=1)
    flags.DEFINE_string(
        "beam_pipeline_options", None,
        "--runner=beam: further Beam pipeline options, as one string, e.g. "
        "'--runner=DataflowRunner --project=P --region=R --temp_location=gs://B/tmp'. "
        "A --runner here replaces the local FnApiRunner. Untested here.")
    flags.DEFINE_string(
        "beam_temp_location", None,
        "--runner=beam: where results travel from the workers back to this process (a "
        "folder every worker can write: a shared or cloud path on a cluster). Default: the "
        "system's temporary folder.")
