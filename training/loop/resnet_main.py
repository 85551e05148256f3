"""dicom_main's work: the TensorFlow official models' resnet_main flags (their names,
short names and meanings) read as one training run of ours, and its closing line."""

from __future__ import annotations

import logging
from typing import Any

from absl import flags

from nets.scopes import parse_scopes
from training.loop.optimizers import OptimizerSettings
from training.loop.train_settings import TrainSettings

KNOWN_HOOKS = {"loggingtensorhook", "examplespersecondhook"}
log = logging.getLogger(__name__)


def resnet_main_settings(values: flags.FlagValues) -> TrainSettings:
    """The run resnet_main's flags describe: momentum SGD with the official schedule
    (0.1 x batch/256, decayed tenfold every 30 epochs), weight decay 1e-4, the net's
    logits left out of a pretrained checkpoint; a one-line ValueError for a flag that
    cannot apply."""
    if not values.data_dir:
        raise ValueError("--data_dir (-dd) is required: the tf_convert_data output directory")
    unknown = [h for h in values.hooks if h.lower() not in KNOWN_HOOKS]
    if unknown:
        raise ValueError(f"--hooks {','.join(unknown)} not supported; use LoggingTensorHook, "
                         "ExamplesPerSecondHook")
    if any(getattr(values, f) for f in ("benchmark_log_dir", "gcp_project", "bigquery_data_set",
                                       "bigquery_run_table", "bigquery_metric_table",
                                       "bigquery_uploader")):
        log.warning("benchmark/BigQuery flags are accepted but uploading is not supported; "
                    "metrics are written to %s/eval_*/metrics.json", values.model_dir)
    if values.data_format == "channels_first":
        log.warning("--data_format=channels_first: Keras runs channels_last here; the GPU "
                    "library chooses its own layout")
    clones = values.num_gpus if values.num_gpus is not None else (
        _gpu_count() if values.multi_gpu else 1)
    learning_rate = values.learning_rate or 0.1 * values.batch_size / 256
    model_name = f"resnet_v{values.version}_{values.resnet_size}"
    return TrainSettings(
        train_dir=values.model_dir, dataset_dir=values.data_dir, model_name=model_name,
        checkpoint_path=values.pretrained_model_checkpoint_path,
        checkpoint_exclude_scopes=parse_scopes(values.exclude_scopes
                                               or [f"{model_name}/logits"]),
        batch_size=values.batch_size, train_image_size=values.image_size,
        optimizer=OptimizerSettings(name="momentum", momentum=0.9),
        learning_rate=learning_rate, learning_rate_decay_type="exponential",
        learning_rate_decay_factor=0.1, num_epochs_per_decay=30, weight_decay=1e-4,
        save_interval_secs=600, save_summaries_secs=60,
        log_every_n_steps=values.log_every_n_steps, num_clones=max(1, clones),
        mixed_precision=values.dtype == "fp16", loss_scale=values.loss_scale,
        synthetic_data=values.use_synthetic_data,
    )


def _gpu_count() -> int:
    import tensorflow as tf

    return len(tf.config.list_physical_devices("GPU"))




def result_line(settings: TrainSettings, result: Any) -> str:
    """'resnet_v2_50: step N (E epochs), eval accuracy A[ - stop threshold reached]'."""
    accuracy = result.report["accuracy"] if result.report else None
    return (f"{settings.model_name}: step {result.step} ({result.epochs:.2f} epochs)"
            + (f", eval accuracy {accuracy:.4f}" if accuracy is not None else "")
            + (" - stop threshold reached" if result.stopped_early else ""))
