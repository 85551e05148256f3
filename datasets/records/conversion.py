"""Folder of images (+ labels or masks) -> sharded TFRecords, labels.txt, spec, tfds metadata.

Two passes over the input, both in `num_workers` processes: a probe that
decodes every image once (so every input problem is known before anything is
written), then the write, where workers build the serialized Examples in split
and shard order and this process appends them to `<shard>.partial` files.
Only when every shard is complete are they renamed; `dataset_spec.json` is
written last, so a killed run leaves nothing a reader would mistake for a
finished conversion, and the next run clears its `.partial` leftovers.

With `beam_arguments` the probe and the shard writing run as Apache Beam
pipelines instead of the pool (one element per image, then one per shard): the
same functions, the same plan made here, so the same records and spec.
"""

from __future__ import annotations

import glob
import logging
import math
import multiprocessing
import os
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np
from tqdm import tqdm

from console.options import option
from datasets.records import example_codec, splits
from datasets.records.catalog_attributes import (
    DEFAULT_ATTRIBUTES,
    UNKNOWN,
    FolderAttributes,
    read_folder_attributes,
)
from datasets.records.class_names import class_names_from, write_labels_file
from datasets.records.dataset_spec import (
    CLASSIFICATION,
    SPEC_FILE,
    DatasetSpec,
    SplitSpec,
    write_spec,
)
from datasets.records.label_policy import LabelPolicy, count_labels
from datasets.records.planar_pixels import PLANAR
from datasets.records.record_images import (
    UnreadableImage,
    load_record_image,
    scaled_mask,
    scaled_record_image,
    stored_pixels,
)
from datasets.records.segmentation_masks import encode_mask, load_mask
from datasets.records.source_folder import (
    ID_COLUMNS,
    InputProblem,
    SourceItem,
    file_stem,
    label_names,
    scan_source,
    source_task,
)
from datasets.records.tasks import TASKS, record_task
from dicom.decoding.intensity_window import PRESETS, IntensityWindow, parse_window
from files.folder_layout import (
    WINDOW_FILE,
    SegmentationClass,
    find_class_dict,
    folder_deidentification,
    folder_preprocessing,
    folder_window,
)
from files.image_limits import scaled_size

PARTIAL = ".partial"
DEFAULT_SHARD_SIZE_MB = 100.0
IMAGE_FORMATS = (PLANAR, "png", "raw")
log = logging.getLogger(__name__)


@dataclass
class ConversionSettings:
    """One conversion of a folder to records. The fields set by `option` are also
    tf_convert_data's flags (console.options): each default and help spelled once."""

    dataset_name: str
    dataset_dir: str
    output_dir: str
    output_name: str
    need_split: str = option(
        "None", "None: one output named <output_name>-NNNNN-of-NNNNN.tfrecord holding the "
        "split --split_name; tt_split: train/test; tvt_split: train/validation/test; kfold: "
        "--num_folds folds fold1..foldK for cross-validation (cross_validate.py), after an "
        "optional --fold_test_size test split. Splits are stratified by label, reproducible "
        "with --seed, and never split one patient.", choices=list(splits.SPLIT_MODES))
    validation_size: float = option(
        0.1, "Validation split (tvt_split): a fraction of the images below 1 (0.1) or a "
        "count (50). Default 0.1.", parse=partial(splits.parse_size, flag="validation_size"))
    test_size: float = option(
        0.1, "Test split (tt_split, tvt_split): a fraction of the images below 1 (0.1) or a "
        "count (50). Default 0.1.", parse=partial(splits.parse_size, flag="test_size"))
    num_folds: int = option(
        splits.DEFAULT_NUM_FOLDS, "kfold: how many folds. Run K trains on every fold but K "
        "(split train_foldK) and validates on fold K (split validation_foldK).", lower_bound=2)
    fold_test_size: float = option(
        0.0, "kfold: a test split held out before the folds are dealt, a fraction of the "
        "images below 1 (0.2) or a count (50); 0 (default): none.",
        parse=partial(splits.parse_size, flag="fold_test_size"))
    seed: int = option(0, "Seed of the split and of the record order inside each split.")
    num_shards: int | None = option(
        None, "Shards per split; unset (or 0) picks the count from --shard_size_mb.",
        lower_bound=0)
    shard_size_mb: float = option(
        DEFAULT_SHARD_SIZE_MB, "Target shard size when --num_shards is unset.",
        lower_bound=0.001)
    num_workers: int = 1
    skip_invalid: bool = option(
        False, "Skip (and list) images without labels, labels without images, empty labels "
        "and unreadable images instead of stopping before anything is written.")
    split_name: str = option(splits.TRAIN, "Name of the single split when --need_split=None.")
    image_format: str = option(
        PLANAR, "How records hold the pixels, all lossless. planar (default): the decoded "
        "pixels as byte planes, each zlib-compressed where that pays; within about 15 % of "
        "PNG's size and two to three times as fast for training to read. png: the image as "
        "stored (PNG 8/16-bit or JPEG bytes; DICOM as 16-bit PNG), the format "
        "tensorflow-datasets decodes itself. raw: the decoded pixels uncompressed, the "
        "fastest to read, a third to a half more disk than PNG.",
        choices=[PLANAR, "png", "raw"])
    progress: bool = True
    tfds_metadata: bool = option(
        True, "Write dataset_info.json/features.json for tensorflow-datasets.")
    max_image_size: int | None = option(
        None, "Scale images whose longer side exceeds this down to it, once, here (aspect "
        "kept, never upscaled, anti-aliased, bit depth kept; masks by nearest neighbour). "
        "Recorded in dataset_spec.json: eval, classify_image and the SavedModel scale larger "
        "inputs the same way. Use it for full-size radiographs trained at a few hundred "
        "pixels: each epoch then decodes small images instead of 5-megapixel ones. Unset: "
        "images as they are.", lower_bound=1)
    intensity_window: IntensityWindow | None = option(
        None, "CT intensity window for DICOM inputs, in Hounsfield units after the rescale: "
        "a preset (" + ", ".join(f"{n} {c:g},{w:g}" for n, (c, w) in PRESETS.items())
        + ") or center,width (e.g. -600,1500). Replaces each file's own window; recorded in "
        "dataset_spec.json, and a model trained on the records applies it to the DICOM "
        "files it classifies. A file without Hounsfield units (not CT, no RescaleType HU) "
        "stops the run with one line.", flag="window", parse=parse_window)
    label_policy: LabelPolicy = field(default_factory=LabelPolicy)
    """Multi-label: how uncertain and blank entries become targets and masks."""
    beam_arguments: list[str] | None = None
    """Run the per-image work on Apache Beam (pipelines.beam_runner) instead of the pool."""
    beam_temp_location: str | None = None
    attributes: tuple[str, ...] = DEFAULT_ATTRIBUTES
    """Catalog attributes from metadata.csv copied into each record (evaluation's
    subgroups); those the folder lacks are left out, unless `attributes_required`."""
    attributes_required: bool = False

    @property
    def task(self) -> str:
        """A registered task by --dataset_name (segmentation, or a task of one's own);
        otherwise classification, or multi-label when the folder has a labels.csv."""
        by_name = TASKS.get(self.dataset_name)
        named = (by_name.name if by_name is not None and not by_name.multi_label
                 else CLASSIFICATION)
        return source_task(self.dataset_dir, named)


class InvalidInput(ValueError):
    """Input problems found before writing; `problems` lists every one."""

    def __init__(self, problems: list[InputProblem]) -> None:
        self.problems = problems
        kinds = Counter(p.reason.split(" (")[0].split(":")[0] for p in problems)
        common = "; ".join(f"{k} x{v}" for k, v in kinds.most_common(3))
        super().__init__(
            f"{len(problems)} input problem(s), nothing written ({common}); fix them or pass "
            "--skip_invalid to convert the rest"
        )


@dataclass
class ConversionResult:
    spec: DatasetSpec
    skipped: list[InputProblem] = field(default_factory=list)

    def line(self, output_dir: str) -> str:
        """The conversion's outcome as one console line: examples and shards per split."""
        parts = ", ".join(
            f"{name} {split.num_examples} in {len(split.files)} shard(s)"
            for name, split in self.spec.splits.items()
        )
        kind = self.spec.kind.target_noun
        text = (
            f"wrote {sum(s.num_examples for s in self.spec.splits.values())} {self.spec.task} "
            f"records to {output_dir} ({parts}); {self.spec.num_classes} {kind}"
        )
        if self.skipped:
            text += f"; skipped {len(self.skipped)} invalid input(s)"
        return text


@dataclass(frozen=True)
class _Probe:
    height: int
    width: int
    channels: int
    bit_depth: int
    file_bytes: int
    max_label: int = 0


# Worker state, set by the pool initializer (fork: nothing is pickled per task).
_classes: list[SegmentationClass] | None = None


def _init_worker(classes: list[SegmentationClass] | None) -> None:
    global _classes
    _classes = classes


def _probe(task: tuple[SourceItem, int | None, IntensityWindow | None]
           ) -> _Probe | InputProblem:
    item, max_size, intensity_window = task
    try:
        image = load_record_image(item.image_path, verify=True,
                                  intensity_window=intensity_window)
    except UnreadableImage as exc:
        return InputProblem(item.image_path, f"unreadable image: {exc}")
    max_label = 0
    if item.mask_path is not None:
        try:
            mask = load_mask(item.mask_path, _classes)
        except UnreadableImage as exc:
            return InputProblem(item.mask_path, f"unreadable mask: {exc}")
        if mask.shape != (image.height, image.width):
            return InputProblem(
                item.mask_path,
                f"mask is {mask.shape[1]}x{mask.shape[0]} but its image is "
                f"{image.width}x{image.height}",
            )
        max_label = int(mask.max()) if mask.size else 0
    size = os.path.getsize(item.image_path)
    height, width = image.height, image.width
    if max_size:
        height, width = scaled_size(height, width, max_size)
    return _Probe(height, width, image.channels, image.bit_depth, size, max_label)


def _serialize(task: tuple[SourceItem, int, str, int, int | None, LabelPolicy,
                           IntensityWindow | None]) -> bytes:
    item, label_index, image_format, pixel_bit_depth, max_size, policy, intensity_window = task
    image = scaled_record_image(load_record_image(item.image_path, verify=False,
                                                  intensity_window=intensity_window), max_size)
    image = stored_pixels(image, pixel_bit_depth, image_format)
    if item.findings is not None:
        targets, known = policy.encode(item.findings)
        return example_codec.multilabel_example(
            image, targets, known, item.label or "", item.example_id, item.patient_id,
            item.attributes)
    if item.mask_path is not None:
        mask = encode_mask(scaled_mask(load_mask(item.mask_path, _classes), max_size))
        return example_codec.segmentation_example(
            image, mask, item.example_id, item.patient_id, item.attributes)
    return example_codec.classification_example(
        image, label_index, item.label or "", item.example_id, item.patient_id,
        item.attributes)


def _map(pool, function, items: list, chunksize: int) -> Iterator:
    if pool is None:
        return map(function, items)
    if isinstance(pool, _BeamPool):
        return iter(pool.run(function, items))
    return pool.imap(function, items, chunksize=chunksize)


class _InWorker:
    """`function` with the worker state set first (what the pool's initializer does)."""

    def __init__(self, function, classes: list[SegmentationClass] | None) -> None:
        self.function, self.classes = function, classes

    def __call__(self, task):
        _init_worker(self.classes)
        return self.function(task)


@dataclass
class _BeamPool:
    arguments: list[str]
    temp_location: str | None
    classes: list[SegmentationClass] | None

    def run(self, function, tasks: list) -> list:
        from pipelines.beam_runner import run_on_beam

        return run_on_beam(_InWorker(function, self.classes), tasks, self.arguments,
                           self.temp_location, label=function.__name__.strip("_"))


def _write_shard(task: tuple[str, list]) -> int:
    """Serialize a shard's images in order into `path`; returns its bytes (Beam's write)."""
    import tensorflow as tf

    path, tasks = task
    num_bytes = 0
    with tf.io.TFRecordWriter(path) as writer:
        for one in tasks:
            record = _serialize(one)
            writer.write(record)
            num_bytes += len(record)
    return num_bytes


def convert(settings: ConversionSettings) -> ConversionResult:
    """Run the whole conversion; raises `InvalidInput` before writing anything."""
    task = settings.task
    if record_task(task).multi_label:
        log.info("%s has a labels.csv: converting multi-label records (uncertain: %s, "
                 "blank: %s)", settings.dataset_dir, settings.label_policy.uncertain,
                 settings.label_policy.blank)
    if settings.image_format not in IMAGE_FORMATS:
        raise ValueError(
            f"--image_format={settings.image_format!r}; choose one of {', '.join(IMAGE_FORMATS)}"
        )
    if settings.need_split not in splits.SPLIT_MODES:
        raise ValueError(
            f"--need_split={settings.need_split!r}; choose one of {', '.join(splits.SPLIT_MODES)}"
        )
    preprocessing = folder_preprocessing(settings.dataset_dir)  # mixed: an error, up front
    settings, recorded_window = _window_settings(settings)
    items, problems = scan_source(settings.dataset_dir, task)
    attributes = read_folder_attributes(settings.dataset_dir, settings.attributes, file_stem,
                                        ID_COLUMNS, settings.attributes_required)
    items = _with_attributes(items, attributes)
    classes = find_class_dict(settings.dataset_dir) if record_task(task).dense else None
    workers = max(1, settings.num_workers)
    pool: Any = None
    if settings.beam_arguments is not None:
        pool = _BeamPool(settings.beam_arguments, settings.beam_temp_location, classes)
    elif workers > 1 and len(items) > 1:
        context = multiprocessing.get_context("fork")
        pool = context.Pool(workers, initializer=_init_worker, initargs=(classes,))
    else:
        _init_worker(classes)
    try:
        probes = _probe_all(pool, items, settings.max_image_size, settings.progress,
                            settings.intensity_window)
        problems += [p for p in probes.values() if isinstance(p, InputProblem)]
        if problems and not settings.skip_invalid:
            raise InvalidInput(problems)
        valid = [item for item in items if isinstance(probes[item.example_id], _Probe)]
        if not valid:
            raise ValueError(f"no convertible images in {settings.dataset_dir}")
        infos = {i.example_id: probes[i.example_id] for i in valid}
        class_names = _class_names(task, valid, infos, classes, settings.dataset_dir)
        layout = _plan(settings, valid, infos)
        spec = _write(settings, task, pool, layout, class_names, infos, preprocessing,
                      recorded_window, attributes.names)
    finally:
        if pool is not None and not isinstance(pool, _BeamPool):
            pool.terminate()
            pool.join()
    for problem in problems:
        log.warning("skipped %s", problem.line())
    return ConversionResult(spec, problems)


def _with_attributes(items: list[SourceItem], attributes: FolderAttributes
                     ) -> list[SourceItem]:
    if not attributes.names:
        return items
    blank = ("",) * len(attributes.names)
    return [replace(item, attributes=tuple(zip(
        attributes.names, attributes.values.get(item.example_id, blank), strict=True)),
        study=attributes.studies.get(item.example_id, "")) for item in items]


def _probe_all(
    pool, items: list[SourceItem], max_size: int | None, progress: bool,
    intensity_window: IntensityWindow | None = None,
) -> dict[str, _Probe | InputProblem]:
    bar = tqdm(total=len(items), unit="image", desc="check", disable=not progress, file=sys.stderr)
    results: dict[str, _Probe | InputProblem] = {}
    tasks = [(item, max_size, intensity_window) for item in items]
    with bar:
        for item, result in zip(items, _map(pool, _probe, tasks, 8), strict=True):
            results[item.example_id] = result
            bar.update(1)
    return results


def _class_names(task, valid, infos, classes, dataset_dir: str) -> list[str]:
    if record_task(task).multi_label:
        return label_names(dataset_dir)
    if record_task(task).single_label:
        return class_names_from(item.label or "" for item in valid)
    if classes is not None:
        return [c.name for c in classes]
    return [str(i) for i in range(max(max(p.max_label for p in infos.values()) + 1, 2))]


@dataclass
class _Shard:
    split: str
    path: str
    items: list[SourceItem]


def _plan(settings: ConversionSettings, valid: list[SourceItem], infos) -> list[_Shard]:
    assignment, names = _assignment(settings, valid)
    named_by_split = names != [settings.split_name]
    rng = np.random.default_rng(settings.seed)
    shards: list[_Shard] = []
    for name in names:
        members = [item for item, split in zip(valid, assignment, strict=True) if split == name]
        if not members:
            raise ValueError(
                f"split {name!r} would be empty with {len(valid)} images; lower "
                "--validation_size/--test_size/--num_folds or add images"
            )
        members = [members[i] for i in rng.permutation(len(members))]
        total_bytes = sum(infos[i.example_id].file_bytes for i in members)
        count = settings.num_shards or math.ceil(total_bytes / (settings.shard_size_mb * 2**20))
        count = max(1, min(count, len(members)))
        bounds = np.linspace(0, len(members), count + 1).round().astype(int)
        for index in range(count):
            prefix = (f"{settings.output_name}_{name}" if named_by_split
                      else settings.output_name)
            filename = f"{prefix}-{index:05d}-of-{count:05d}.tfrecord"
            path = os.path.join(settings.output_dir, filename)
            shards.append(_Shard(name, path, members[bounds[index] : bounds[index + 1]]))
    return shards


def _assignment(settings: ConversionSettings, valid: list[SourceItem]
                ) -> tuple[list[str], list[str]]:
    """Each item's split, and the split names in the order they are written."""
    multilabel = valid[0].findings is not None
    positives = ([_positives(item, settings.label_policy) for item in valid] if multilabel
                 else None)
    labels = [i.label for i in valid]
    groups = [i.group for i in valid]
    if settings.need_split == splits.KFOLD:
        assignment = splits.assign_folds(None if multilabel else labels, positives, groups,
                                         settings.num_folds, settings.fold_test_size,
                                         settings.seed)
        folds = [splits.fold_name(k) for k in range(1, settings.num_folds + 1)]
        return assignment, [*([splits.TEST] if settings.fold_test_size > 0 else []), *folds]
    held_out = splits.SPLIT_MODES[settings.need_split]
    sizes = {
        name: settings.validation_size if name == splits.VALIDATION else settings.test_size
        for name in held_out
    }
    sizes = {name: size for name, size in sizes.items() if size > 0}
    if not sizes:
        return [settings.split_name] * len(valid), [settings.split_name]
    if positives is not None:
        assignment = splits.assign_multilabel_splits(positives, groups, sizes, settings.seed)
    else:
        assignment = splits.assign_splits(labels, groups, sizes, settings.seed)
    order = [splits.TRAIN, splits.VALIDATION, splits.TEST]
    return assignment, [n for n in order if n == splits.TRAIN or n in sizes]


def _positives(item: SourceItem, policy: LabelPolicy) -> list[int]:
    """The label indices that are known positives of a multi-label item."""
    targets, mask = policy.encode(item.findings or ())
    return [i for i, (t, m) in enumerate(zip(targets, mask, strict=True)) if t and m]


def _described(window: IntensityWindow | None) -> str:
    return window.describe() if window is not None else "none"


def _window_settings(settings: ConversionSettings
                     ) -> tuple[ConversionSettings, dict | None]:
    """The window to apply while loading, and the one to record: a folder that fetch_image
    wrote from a windowed catalog holds windowed images already (nothing to apply; its
    window is recorded); otherwise --window applies to the DICOM inputs."""
    from dataclasses import replace

    held = folder_window(settings.dataset_dir)
    asked = settings.intensity_window
    if held is None:
        return settings, asked.to_dict() if asked else None
    if asked is not None and asked.to_dict() != held:
        raise ValueError(f"{settings.dataset_dir} holds images displayed through the window "
                         f"{_described(IntensityWindow.from_dict(held))} (its {WINDOW_FILE}); "
                         f"--window {asked.describe()} cannot apply on top")
    return replace(settings, intensity_window=None), held


def _write(settings, task: str, pool, layout: list[_Shard], class_names, infos,
           preprocessing: tuple[str, int] | None,
           recorded_window: dict | None = None,
           attribute_names: tuple[str, ...] = ()) -> DatasetSpec:
    import tensorflow as tf

    os.makedirs(settings.output_dir, exist_ok=True)
    remove_partial_files(settings.output_dir)
    index_of = {name: i for i, name in enumerate(class_names)}
    probes = list(infos.values())
    bit_depths = sorted({p.bit_depth for p in probes})
    pixel_bit_depth = max(bit_depths)  # raw and planar records: one depth (8-bit x 257)
    tasks = [
        (item, index_of.get(item.label or "", -1), settings.image_format, pixel_bit_depth,
         settings.max_image_size, settings.label_policy, settings.intensity_window)
        for shard in layout
        for item in shard.items
    ]
    total = len(tasks)
    bar = tqdm(total=total, unit="image", desc="convert", disable=not settings.progress,
               file=sys.stderr)
    shard_bytes: list[int] = []
    with bar:
        if isinstance(pool, _BeamPool):  # one element per shard: the workers write them
            start, shard_tasks = 0, []
            for shard in layout:
                shard_tasks.append((shard.path + PARTIAL, tasks[start:start + len(shard.items)]))
                start += len(shard.items)
            shard_bytes = pool.run(_write_shard, shard_tasks)
            bar.update(total)
        else:
            results = _map(pool, _serialize, tasks, 8)
            for shard in layout:
                num_bytes = 0
                with tf.io.TFRecordWriter(shard.path + PARTIAL) as writer:
                    for _ in shard.items:
                        record = next(results)
                        writer.write(record)
                        num_bytes += len(record)
                        bar.update(1)
                shard_bytes.append(num_bytes)
    split_specs: dict[str, SplitSpec] = {}
    for shard, num_bytes in zip(layout, shard_bytes, strict=True):
        split = split_specs.setdefault(shard.split, SplitSpec(0, [], []))
        split.num_examples += len(shard.items)
        split.files.append(os.path.basename(shard.path))
        split.shard_lengths.append(len(shard.items))
        split.num_bytes += num_bytes
        _add_make_up(split, shard.items)
        if record_task(task).multi_label:
            _add_label_counts(split, class_names, shard.items, settings.label_policy)
        else:
            split.class_counts = dict(
                Counter(split.class_counts) + Counter(i.label for i in shard.items if i.label)
            )
    spec = DatasetSpec(
        dataset_name=settings.dataset_name,
        task=task,
        output_name=settings.output_name,
        class_names=class_names,
        splits=split_specs,
        channels=_common([p.channels for p in probes]),
        min_size=(min(p.height for p in probes), min(p.width for p in probes)),
        max_size=(max(p.height for p in probes), max(p.width for p in probes)),
        bit_depths=bit_depths,
        seed=settings.seed,
        image_format=settings.image_format,
        grouped_by_patient=any(i.patient_id for s in layout for i in s.items),
        pixel_preprocessing=(None if preprocessing is None
                             else {"method": preprocessing[0], "value": preprocessing[1]}),
        max_image_size=settings.max_image_size,
        intensity_window=recorded_window,
        label_policy=settings.label_policy.to_dict() if record_task(task).multi_label else None,
        num_folds=settings.num_folds if settings.need_split == splits.KFOLD else None,
        attributes=list(attribute_names),
        deidentification=folder_deidentification(settings.dataset_dir),
    )
    _commit(settings, layout, spec)
    return spec


def _add_make_up(split: SplitSpec, items: list[SourceItem]) -> None:
    """Patients, studies and each attribute's values, counted per split (the make-up an
    evaluation report shows). A split's shards hold whole patients, so per-shard patient
    counts add up."""
    split.patients += len({i.patient_id for i in items if i.patient_id})
    split.studies += len({i.study for i in items if i.study})
    for item in items:
        for name, value in item.attributes:
            counts = split.attribute_counts.setdefault(name, {})
            key = value or UNKNOWN
            counts[key] = counts.get(key, 0) + 1


def _add_label_counts(split: SplitSpec, class_names: list[str], items: list[SourceItem],
                      policy: LabelPolicy) -> None:
    added = count_labels(class_names, [policy.encode(i.findings or ()) for i in items])
    for name, counts in added.items():
        total = split.label_counts.setdefault(name, dict.fromkeys(counts, 0))
        for key, value in counts.items():
            total[key] += value
    split.class_counts = {name: c["positive"] for name, c in split.label_counts.items()}


def _common(values: Iterable[int]) -> int | None:
    distinct = set(values)
    return distinct.pop() if len(distinct) == 1 else None


def _commit(settings: ConversionSettings, layout: list[_Shard], spec: DatasetSpec) -> None:
    """Rename the finished shards into place; the spec goes last."""
    out = settings.output_dir
    spec_path = os.path.join(out, SPEC_FILE)
    if os.path.exists(spec_path):
        os.remove(spec_path)
    for shard in layout:
        os.replace(shard.path + PARTIAL, shard.path)
    keep = {os.path.basename(shard.path) for shard in layout}
    ours = re.compile(
        rf"{re.escape(settings.output_name)}(_[a-z]+\d*)?-\d{{5}}-of-\d{{5}}\.tfrecord")
    for name in os.listdir(out):
        if ours.fullmatch(name) and name not in keep:
            os.remove(os.path.join(out, name))
    write_labels_file(spec.class_names, out)
    if settings.tfds_metadata:
        from datasets.records.tfds_metadata import write_tfds_metadata

        write_tfds_metadata(spec, out)
    write_spec(spec, out)


def remove_partial_files(directory: str) -> int:
    """Delete `.partial` leftovers of a killed run; returns how many."""
    stale = glob.glob(os.path.join(directory, f"*{PARTIAL}"))
    for path in stale:
        os.remove(path)
    if stale:
        log.info("removed %d partial file(s) left by an earlier, unfinished run", len(stale))
    return len(stale)
