"""The training loop behind train_image_classifier.py (and dicom_main.py).

A custom loop rather than `model.fit`, for what TF-Slim users relied on:
time-based checkpoints and summaries, fine-tuning with exclude/trainable
scopes, the auxiliary-logits loss, TF-Slim's weight decay, and a log line every
`log_every_n_steps`. One compiled call runs `steps_per_execution` steps (one
by default), as `fit` does; measured against `fit` in bench/train_step.py.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from datasets.dataset_factory import get_dataset
from datasets.input_pipeline.pipeline import PipelineOptions
from datasets.records.dataset_spec import DatasetSpec, read_spec
from datasets.records.tasks import record_task
from nets.nets_factory import build_model, get_net
from nets.scopes import in_scope
from training.classification.multilabel_loss import resolve_pos_weight
from training.loop.checkpoints import CHECKPOINT_NAME, TrainingState, open_checkpoint, restore
from training.loop.distribution import (
    any_worker,
    choose_strategy,
    is_chief,
    shard_across_workers,
    shards_by_record,
    worker_count,
    write_dir,
)
from training.loop.learning_rate import build_schedule, current_learning_rate
from training.loop.optimizers import build_optimizer
from training.loop.run_config import RunConfig, find_run_config, write_run_config
from training.loop.task_heads import LossInputs, task_head
from training.loop.train_settings import TrainSettings
from training.loop.validation import (
    BestKeeper,
    BestState,
    best_directory,
    check_monitor,
    make_validator,
    validation_dataset,
)

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    step: int
    checkpoint: str
    loss: float
    examples_per_sec: float
    spec: DatasetSpec
    stopped_early: bool = False
    best: BestState | None = None
    """With validation inside training: the best metric value and its step."""


def resolve_class_weights(setting: str | None, spec: DatasetSpec, split: str) -> np.ndarray | None:
    """None, 'auto' (N / (K * n_c) from the split's class counts) or 'w0,w1,...'."""
    if not setting:
        return None
    if setting == "auto":
        counts = spec.split(split).class_counts
        total = sum(counts.values())
        missing = [c for c in spec.class_names if not counts.get(c)]
        if missing:
            raise ValueError(f"--class_weights=auto: split {split!r} has no {missing[0]} images")
        return np.array([total / (spec.num_classes * counts[c]) for c in spec.class_names],
                        dtype=np.float32)
    try:
        weights = np.array([float(w) for w in setting.split(",")], dtype=np.float32)
    except ValueError:
        raise ValueError(f"--class_weights must be 'auto' or numbers, got {setting!r}") from None
    if len(weights) != spec.num_classes or (weights <= 0).any():
        raise ValueError(f"--class_weights needs {spec.num_classes} positive weights "
                         f"({', '.join(spec.class_names)}), got {setting!r}")
    return weights


def _precision_policy(mixed: bool) -> str:
    if not mixed:
        return "float32"
    return "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"


def _freeze_outside(model: keras.Model, trainable_scopes: list[str]) -> None:
    """Only layers under the scopes train; frozen BatchNorm keeps its restored statistics."""
    if not trainable_scopes:
        return
    for layer in model.layers:
        if layer.weights and not in_scope(layer.name, trainable_scopes):
            layer.trainable = False
    if not model.trainable_variables:
        raise ValueError(f"--trainable_scopes {','.join(trainable_scopes)} select no variables")


def _decayed_kernels(variables) -> list:
    """Kernels get TF-Slim's L2 weight decay; biases and batch-norm parameters do not."""
    return [v for v in variables if v.path.endswith(("/kernel", "/depthwise_kernel"))]


def train(
    settings: TrainSettings,
    on_step: Callable[[int, tf.Tensor], None] | None = None,
) -> TrainResult:
    """Train until `max_number_of_steps` (forever when None; Ctrl-C saves and stops).

    `on_step(step, loss)` runs after every compiled call (every step, unless
    `steps_per_execution` groups them) with the last step's loss; `loss` is a tensor, so a
    caller that does not read it does not make the loop wait for the device.
    """
    spec = read_spec(settings.dataset_dir)
    net = get_net(settings.model_name)
    if record_task(net.task).dense != spec.kind.dense:
        raise ValueError(f"{settings.model_name} is a {net.task} net but {settings.dataset_dir} "
                         f"holds a {spec.task} dataset")
    if spec.kind.dense and settings.class_weights:
        raise ValueError("--class_weights applies to classification only")
    if spec.kind.multi_label and settings.class_weights:
        raise ValueError(f"{settings.dataset_dir} holds multi-label records: weigh rare "
                         "findings with --pos_weight (auto, or one weight per label) instead "
                         "of --class_weights")
    if not spec.kind.multi_label and settings.pos_weight:
        raise ValueError(f"--pos_weight applies to multi-label records; {settings.dataset_dir} "
                         f"holds {spec.task} records")
    if settings.steps_per_execution < 1:
        raise ValueError(f"--steps_per_execution={settings.steps_per_execution}: give 1 or "
                         "more")
    if _monitoring(settings):
        check_monitor(settings.keep_best_on, spec.task)
        if spec.validation_split_for(settings.dataset_split_name) is None:
            raise ValueError(f"--keep_best_on/--early_stopping_patience validate inside "
                             f"training, but {settings.dataset_dir} has no validation split: "
                             "convert with --need_split=tvt_split or kfold")
        if worker_count() > 1:
            raise ValueError("--keep_best_on/--early_stopping_patience run on one worker; "
                             "with several, evaluate beside training (eval_image_classifier "
                             "--watch)")
    size = settings.train_image_size or net.default_size
    channels = _input_channels(settings, spec)
    strategy = choose_strategy(settings.num_clones)  # first: it may split the CPU
    chief = is_chief()
    with write_dir(settings.train_dir, chief) as directory:
        return _train(settings, spec, net, size, channels, strategy, chief, directory,
                      on_step)


def _train(settings, spec, net, size, channels, strategy, chief, directory,
           on_step) -> TrainResult:
    """Build and run; only the chief writes the run config and summaries, and checkpoints
    go to `directory` (the train_dir for the chief, a scratch folder for other workers)."""
    policy = _precision_policy(settings.mixed_precision)
    keras.mixed_precision.set_dtype_policy(policy)
    class_weights = resolve_class_weights(settings.class_weights, spec,
                                          settings.dataset_split_name)
    pos_weight = resolve_pos_weight(settings.pos_weight, spec, settings.dataset_split_name)
    if chief:
        _record_run_config(settings, size, channels, spec, pos_weight)
    train_size = spec.split(settings.dataset_split_name).num_examples
    if settings.seed is not None:
        keras.utils.set_random_seed(settings.seed)  # the initial weights and dropout too
    with strategy.scope():
        model = build_model(settings.model_name, spec.num_classes, size, channels,
                            settings.model_options, settings.preprocessing_name)
        _freeze_outside(model, settings.trainable_scopes)
        schedule = build_schedule(
            settings.learning_rate_decay_type, settings.learning_rate, train_size,
            settings.batch_size, settings.num_epochs_per_decay,
            settings.learning_rate_decay_factor, settings.end_learning_rate)
        optimizer = build_optimizer(settings.optimizer, schedule)
        if settings.moving_average_decay:
            optimizer.use_ema = True
            optimizer.ema_momentum = settings.moving_average_decay
            optimizer.ema_overwrite_frequency = None
        if policy == "mixed_float16":
            scale = {"initial_scale": settings.loss_scale} if settings.loss_scale else {}
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer, **scale)
        train_vars = model.trainable_variables
        optimizer.build(train_vars)
        state = TrainingState(model, optimizer)
        state.averages = _moving_averages(optimizer)
        manager = state.manager(directory, settings.max_checkpoints_to_keep)
    _initialise(settings, state, manager, model)

    files = len(spec.split(settings.dataset_split_name).files)
    one_order = shards_by_record(files)
    options = PipelineOptions(
        image_size=(size, size), channels=channels, batch_size=settings.batch_size,
        is_training=True, num_epochs=None, drop_remainder=True,
        seed=settings.seed if settings.seed is not None or not one_order else 0,
        deterministic=one_order,
        augment=PipelineOptions().augment if settings.augment else None,
        synthetic=settings.synthetic_data,
    )
    _, dataset = get_dataset(settings.dataset_name, settings.dataset_split_name,
                             settings.dataset_dir, options)
    dataset = shard_across_workers(_on_device(dataset, strategy), files)
    iterator = iter(strategy.experimental_distribute_dataset(dataset))
    losses = task_head(spec.task).losses(LossInputs(
        settings, spec.num_classes, net.has_aux_logits, class_weights, pos_weight))
    step_fn = _compiled_step(strategy, model, optimizer, train_vars, settings, losses,
                             state.step)
    writer = (tf.summary.create_file_writer(settings.train_dir) if chief
              else tf.summary.create_noop_writer())
    save_due = _agreed_saves(strategy)
    keeper = None
    if _monitoring(settings):
        keeper = _best_keeper(settings, spec, model, size, channels, losses[0], state, writer,
                              train_size)
    return _loop(settings, state, manager, iterator, step_fn, writer, spec, on_step, save_due,
                 keeper)


def _monitoring(settings: TrainSettings) -> bool:
    return bool(settings.keep_best_on or settings.early_stopping_patience)


def _best_keeper(settings, spec, model, size, channels, per_example_loss, state, writer,
                 train_size: int) -> BestKeeper:
    split = spec.validation_split_for(settings.dataset_split_name)
    recorded = find_run_config(settings.train_dir)
    assert recorded is not None  # written before training starts
    framing = recorded.preprocessing
    dataset = validation_dataset(spec, split, settings.dataset_dir, settings.dataset_name,
                                 size, channels, settings.eval_batch_size, framing)
    every = settings.eval_every_n_steps or max(1, math.ceil(train_size / settings.batch_size))
    best = tf.train.CheckpointManager(state.checkpoint(), best_directory(settings.train_dir),
                                      max_to_keep=1, checkpoint_name=CHECKPOINT_NAME)
    log.info("validating on split %s every %d steps; the best on %s goes to %s", split, every,
             check_monitor(settings.keep_best_on, spec.task), best_directory(settings.train_dir))
    return BestKeeper(settings.train_dir, check_monitor(settings.keep_best_on, spec.task),
                      settings.early_stopping_patience, every,
                      make_validator(model, spec, dataset, per_example_loss), best, writer)


def _input_channels(settings: TrainSettings, spec: DatasetSpec) -> int:
    """--channels, else what a resumed train_dir recorded, else those of the checkpoint a
    new run fine-tunes from (a zoo net takes RGB: gray images are replicated), else the
    dataset's."""
    if settings.channels:
        return settings.channels
    recorded = find_run_config(settings.train_dir)
    if recorded is not None and tf.train.latest_checkpoint(settings.train_dir):
        return recorded.channels
    if settings.checkpoint_path:
        source = open_checkpoint(settings.checkpoint_path).input_channels(settings.model_name)
        if source in (1, 3):
            return source
    return spec.channels or 3


def _record_run_config(settings, size: int, channels: int, spec: DatasetSpec,
                       pos_weight: np.ndarray | None) -> None:
    config = RunConfig(settings.model_name, size, channels, spec.class_names,
                       os.path.abspath(settings.dataset_dir), spec.task,
                       dict(settings.model_options), settings.preprocessing_name or "",
                       spec.pixel_preprocessing, spec.max_image_size, spec.label_policy,
                       None if pos_weight is None else [round(float(w), 6)
                                                        for w in pos_weight])
    config.intensity_window = spec.intensity_window
    config.preprocessing_name = config.preprocessing  # the net's default, written out
    existing = find_run_config(settings.train_dir)
    if existing is not None and (existing.model_name, existing.class_names,
                                 existing.model_options, existing.preprocessing,
                                 existing.pixel_preprocessing) != (
            config.model_name, config.class_names, config.model_options, config.preprocessing,
            config.pixel_preprocessing):
        def described(run: RunConfig) -> str:
            pixels = run.folder_preprocessing
            return (f"{run.model_name} {run.model_options or ''} ({run.preprocessing} "
                    f"preprocessing{', ' + pixels.describe() if pixels else ''}) on "
                    f"{', '.join(run.class_names)}")

        raise ValueError(f"{settings.train_dir} holds a {described(existing)}; use a new "
                         f"--train_dir for {described(config)}")
    write_run_config(config, settings.train_dir)


def _moving_averages(optimizer) -> dict:
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    if not getattr(inner, "use_ema", False):
        return {}
    averages = getattr(inner, "_model_variables_moving_average", None) or []
    return {v.path: a for v, a in zip(inner._trainable_variables, averages, strict=True)}


def _initialise(settings, state: TrainingState, manager, model) -> None:
    # Every worker resumes from the chief's checkpoint in the train_dir.
    latest = tf.train.latest_checkpoint(settings.train_dir)
    if latest:
        state.checkpoint().restore(latest).assert_existing_objects_matched()
        log.info("resuming from %s at step %d", latest, int(state.step.numpy()))
        if settings.checkpoint_path:
            log.warning("--checkpoint_path %s is ignored: %s already holds %s and training "
                        "resumes from it (use a new --train_dir to fine-tune afresh)",
                        settings.checkpoint_path, settings.train_dir, os.path.basename(latest))
        return
    if settings.checkpoint_path:
        # Fine-tuning starts from the checkpoint's own weights, never its moving averages.
        restore(model, open_checkpoint(settings.checkpoint_path),
                settings.checkpoint_exclude_scopes,
                ignore_missing_vars=settings.ignore_missing_vars)


def _preview(images, labels, outputs):
    """TensorBoard panels: the images, or for segmentation image | mask | prediction."""
    images = tf.cast(images[:3], tf.float32)
    if labels.shape.rank != 3:
        return images
    classes = tf.cast(tf.maximum(tf.shape(outputs["logits"])[-1] - 1, 1), tf.float32)
    mask = tf.cast(labels[:3], tf.float32)[..., tf.newaxis] / classes
    predicted = tf.argmax(outputs["logits"][:3], -1)
    predicted = tf.cast(predicted, tf.float32)[..., tf.newaxis] / classes
    channels = images.shape[-1]
    mask, predicted = (tf.repeat(m, channels, axis=-1) for m in (mask, predicted))
    return tf.concat([images, mask, predicted], axis=2)


def use_xla(setting: bool | None) -> bool:
    """--jit_compile as given; unset: on where a GPU is visible (XLA rarely pays on CPU)."""
    if setting is not None:
        return setting
    return bool(tf.config.list_physical_devices("GPU"))


def _on_device(dataset: tf.data.Dataset, strategy: tf.distribute.Strategy) -> tf.data.Dataset:
    """One device: the next batch is copied to the GPU while this one trains.

    Distribution strategies already fetch to their devices.
    """
    if strategy.num_replicas_in_sync > 1 or not tf.config.list_physical_devices("GPU"):
        return dataset
    return dataset.apply(tf.data.experimental.prefetch_to_device("/gpu:0", buffer_size=2))


def _compiled_step(strategy, model, optimizer, train_vars, settings, losses, global_step):
    per_example_loss, count_correct = losses
    kernels = _decayed_kernels(train_vars)
    replicas = strategy.num_replicas_in_sync
    scaled = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)

    def forward_backward(images, labels):
        with tf.GradientTape() as tape:
            outputs = model(images, training=True)
            per_example = per_example_loss(outputs, labels)
            loss = tf.nn.compute_average_loss(per_example,
                                              global_batch_size=settings.batch_size)
            if settings.weight_decay and kernels:
                decay = tf.add_n([tf.nn.l2_loss(tf.cast(k, tf.float32)) for k in kernels])
                loss += settings.weight_decay * decay / replicas
            target = optimizer.scale_loss(loss) if scaled else loss
        gradients = tape.gradient(target, train_vars)
        return loss, gradients, count_correct(outputs, labels), _preview(images, labels, outputs)

    if use_xla(settings.jit_compile):
        # The net's forward and backward pass as one XLA cluster; the update stays outside,
        # where a distribution strategy aggregates the gradients across replicas.
        forward_backward = tf.function(forward_backward, jit_compile=True)

    def replica_step(images, labels):
        loss, gradients, correct, preview = forward_backward(images, labels)
        optimizer.apply_gradients(zip(gradients, train_vars, strict=True))
        return loss, correct, preview

    # Only `run`'s tf.range loop needs AutoGraph: a step's code is straight-line, and
    # converting it (the strategy call, the optimizer, the tape) took about a second of
    # every training command's start-up.
    @tf.autograph.experimental.do_not_convert
    def one_step(batch):
        images, labels = batch
        global_step.assign_add(1)
        loss, correct, preview = strategy.run(replica_step, args=(images, labels))
        loss = strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None)
        correct = strategy.reduce(tf.distribute.ReduceOp.SUM, correct, axis=None)
        return loss, correct / settings.batch_size, preview

    compiled: dict[int, Callable] = {}

    def steps(iterator, count: int):
        """`count` steps in one call, reading the iterator on the device side; the last
        step's loss, accuracy and images come back."""
        if count not in compiled:
            @tf.function
            def run(iterator):
                if count > 1:
                    for _ in tf.range(count - 1):
                        one_step(next(iterator))
                return one_step(next(iterator))

            compiled[count] = run
        return compiled[count](iterator)

    return steps


def _agreed_saves(strategy: tf.distribute.Strategy) -> Callable[[bool, bool], bool]:
    """Whether to save now. Saving takes every worker (tf.distribute may reduce variables
    while saving), so with several workers time-based saves happen at a log step, when any
    worker's interval has run out: each worker's clock is pooled there."""
    if worker_count() == 1:
        return lambda interval_over, at_log_step: interval_over
    return lambda interval_over, at_log_step: at_log_step and any_worker(strategy,
                                                                         interval_over)


def _crossed(before: int, after: int, every: int) -> bool:
    """Whether a multiple of `every` lies in (before, after]."""
    return after // every > before // every


def _loop(settings, state, manager, iterator, step_fn, writer, spec, on_step,
          save_due, keeper: BestKeeper | None = None) -> TrainResult:
    start_step = int(state.step.numpy())
    limit = settings.max_number_of_steps
    best = keeper.state if keeper else None
    if limit is not None and start_step >= limit:
        log.info("%s is already at step %d >= --max_number_of_steps=%d; nothing to do",
                 settings.train_dir, start_step, limit)
        return TrainResult(start_step, manager.latest_checkpoint or "", math.nan, 0.0, spec,
                           best=best)
    if best is not None and best.stopped_early:
        log.info("%s stopped early at step %d (%s did not improve on step %s); nothing to do",
                 settings.train_dir, start_step, best.metric, best.step)
        return TrainResult(start_step, manager.latest_checkpoint or "", math.nan, 0.0, spec,
                           stopped_early=True, best=best)
    stopped_early = False
    last_save = last_summary = last_log_time = time.monotonic()
    last_log_step = start_step
    loss_value, rate = math.nan, 0.0
    optimizer = state.optimizer
    interrupted = False
    step = start_step  # mirrors state.step without reading it back (no sync per step)
    try:
        while limit is None or step < limit:
            count = settings.steps_per_execution
            if limit is not None:
                count = min(count, limit - step)
            loss, accuracy, images = step_fn(iterator, count)
            before, step = step, step + count
            now = time.monotonic()
            at_log_step = _crossed(before, step, settings.log_every_n_steps) or step == limit
            if at_log_step:
                loss_value = float(loss)
                rate = (step - last_log_step) * settings.batch_size / max(now - last_log_time,
                                                                         1e-9)
                log.info("step %d: loss %.4f, accuracy %.3f, %.1f examples/s", step, loss_value,
                         float(accuracy), rate)
                last_log_step, last_log_time = step, now
                if not math.isfinite(loss_value):
                    raise FloatingPointError(f"loss is {loss_value} at step {step}: lower "
                                             "--learning_rate or check the data")
            if now - last_summary >= settings.save_summaries_secs or before == start_step:
                _write_summaries(writer, step, loss, accuracy, optimizer, images)
                last_summary = now
            if step != limit and save_due(now - last_save >= settings.save_interval_secs,
                                          at_log_step):
                log.info("saved %s", manager.save(checkpoint_number=step))
                last_save = now
            if on_step is not None:
                on_step(step, loss)
            validate = keeper is not None and (keeper.due(before, step) or step == limit)
            if validate and keeper is not None and keeper.evaluate(step):
                stopped_early = True
                break
    except KeyboardInterrupt:
        interrupted = True
    step = int(state.step.numpy())
    if step > start_step:  # at the end, and on Ctrl-C: nothing trained is lost
        path = manager.save(checkpoint_number=step)
        loss_value = float(loss)
        _write_summaries(writer, step, loss, accuracy, optimizer, images)
        log.info("saved %s", path)
    writer.flush()
    if interrupted:
        raise KeyboardInterrupt
    return TrainResult(step, manager.latest_checkpoint, loss_value, rate, spec, stopped_early,
                       best)


def _write_summaries(writer, step, loss, accuracy, optimizer, images) -> None:
    if not isinstance(images, tf.Tensor):  # distributed: the first replica's images
        images = images.values[0]
    with writer.as_default(step=step):
        tf.summary.scalar("loss", loss)
        tf.summary.scalar("accuracy", accuracy)
        tf.summary.scalar("learning_rate", current_learning_rate(optimizer))
        tf.summary.image("images", images, max_outputs=3)
