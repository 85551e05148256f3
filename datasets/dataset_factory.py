"""`get_dataset(name, split_name, dataset_dir)`: every converted dataset, one code path.

TF-Slim needed a module per dataset (flowers.py, cifar10.py, ...) with sizes
and class counts typed in; here the conversion's `dataset_spec.json` carries
all of that, so a new dataset needs no code. `name` is checked against the
spec so a wrong --dataset_dir is caught before training on the wrong data.
"""

from __future__ import annotations

from dataclasses import replace

import tensorflow as tf

from datasets.input_pipeline.pipeline import PipelineOptions, build_pipeline
from datasets.records.dataset_spec import DatasetSpec, read_spec


def get_dataset(
    name: str | None,
    split_name: str,
    dataset_dir: str,
    options: PipelineOptions | None = None,
    **overrides,
) -> tuple[DatasetSpec, tf.data.Dataset]:
    """The spec of `dataset_dir` and a batched `tf.data.Dataset` of its `split_name`.

    `overrides` set PipelineOptions fields, e.g. `batch_size=8, is_training=True`.
    """
    spec = read_spec(dataset_dir)
    if name and name not in (spec.dataset_name, spec.output_name):
        raise ValueError(
            f"--dataset_name={name} but {dataset_dir} holds {spec.dataset_name!r} "
            f"(output {spec.output_name!r}, {spec.task}); pass that name or the right directory"
        )
    spec.split(split_name)
    options = replace(options or PipelineOptions(), **overrides)
    return spec, build_pipeline(spec, split_name, dataset_dir, options)
