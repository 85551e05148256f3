"""Training input pipeline and tf_convert_data throughput, each against a peer in one run.

    make bench-input   (or: python -m bench.input_pipeline --num_images 5000)
    make bench-input-full   (2048 x 2048 12-bit DICOMs -> catalog -> fetch, also
                             --max_image_size=512, to 299)

Data, made once per work_dir, in two layouts of the same PNG files: `fetched/`
(images/ + labels/, what fetch_image writes) and `by_class/<LABEL>/` (what Keras wants).
  --source=png     synthetic radiographs (dicom.synthetic.phantoms, four body parts)
                   written straight to 16-bit grayscale PNGs.
  --source=dicom   the real path: synthetic 12-bit CR/DX DICOM files (the synthesizer's,
                   RLE and MONOCHROME1 included) ingested into an SQLite catalog with
                   create_database's engine, then fetched with fetch_image's.

Input pipeline, images/s over the same images: decode, resize to 224x224,
batch 32, shuffle, no augmentation, no model:
  ours   datasets.dataset_factory.get_dataset over the converted TFRecords in each
         --image_format: planar (the default), png and raw; with each format's disk size
  peer   keras.utils.image_dataset_from_directory over the PNG files
Conversion, images/s: tf_convert_data (--num_workers 2, tvt_split) against a
TF-Slim-style converter (one process; read, decode for the size, write).
Targets: the default format >= 1.5x the Keras peer at 256 px, and >= 5x at 2048 px
with --max_image_size=512, without raw's disk cost (issue 21).
"""

from __future__ import annotations

import os
import shutil
import sys
import time

import numpy as np
from absl import app, flags
from tqdm import tqdm

from dicom.synthetic.phantoms import BODY_PARTS, radiograph
from files.png_codec import write_image

FLAGS = flags.FLAGS
flags.DEFINE_integer("num_images", 5000, "Synthetic images to convert and read.")
flags.DEFINE_integer("size", 256, "Height and width of the synthetic PNGs.")
flags.DEFINE_integer("image_size", 224, "Size the pipelines resize to.")
flags.DEFINE_integer("batch_size", 32, "Batch size of both pipelines.")
flags.DEFINE_integer("epochs", 3, "Passes over the data for each pipeline (the best counts).")
flags.DEFINE_integer("workers", 2, "tf_convert_data --num_workers.")
flags.DEFINE_string("work_dir", "bench_output/input_pipeline", "Where the images go.")
flags.DEFINE_enum("source", "png", ["png", "dicom"], "Where the PNGs come from: written "
                  "directly, or DICOM files through the catalog and fetch (see above).")
flags.DEFINE_integer("max_image_size", None, "Also convert with tf_convert_data "
                     "--max_image_size=N (PNG and raw records) and read those (full-size "
                     "images).")


def make_images(root: str, count: int, size: int, source: str) -> None:
    marker = os.path.join(root, f".complete-{source}-{count}-{size}")
    if os.path.exists(marker):
        return
    shutil.rmtree(root, ignore_errors=True)
    if source == "dicom":
        _fetch_from_dicom(root, count, size)
    else:
        _write_pngs(root, count, size)
    open(marker, "w").close()


def _write_pngs(root: str, count: int, size: int) -> None:
    fetched_images = os.path.join(root, "fetched", "images")
    fetched_labels = os.path.join(root, "fetched", "labels")
    os.makedirs(fetched_images)
    os.makedirs(fetched_labels)
    rng = np.random.default_rng(5)
    for index in tqdm(range(count), desc="synthesize", unit="image",
                      disable=not sys.stderr.isatty()):  # no redrawn bar in a log
        label = BODY_PARTS[index % len(BODY_PARTS)]
        image = (radiograph(label, size, rng) * 65535).round().astype(np.uint16)
        stem = f"{index:06d}"
        path = os.path.join(fetched_images, f"{stem}.png")
        write_image(path, image)
        with open(os.path.join(fetched_labels, f"{stem}.txt"), "w") as handle:
            handle.write(label.title() + "\n")
        class_dir = os.path.join(root, "by_class", label)
        os.makedirs(class_dir, exist_ok=True)
        os.link(path, os.path.join(class_dir, f"{stem}.png"))


def _fetch_from_dicom(root: str, count: int, size: int) -> None:
    """DICOM files -> SQLite catalog -> fetched PNGs, with the pipeline's own engines."""
    from sqlalchemy.engine import make_url

    from dicom.ingestion.catalog import Catalog
    from dicom.ingestion.fetch import fetch_images
    from dicom.ingestion.ingest import ingest_directory
    from dicom.synthetic.synthetic_dicom import SyntheticSpec, synthesize

    dicom_dir, fetched = os.path.join(root, "dicom"), os.path.join(root, "fetched")
    start = time.perf_counter()
    synthesize(dicom_dir, SyntheticSpec(count, seed=5, size=size, defects=False))
    print(f"synthesized {count} {size}x{size} 12-bit DICOM files in "
          f"{time.perf_counter() - start:.0f} s")
    catalog = Catalog.open(make_url(f"sqlite:///{os.path.join(root, 'catalog.sqlite')}"))
    start = time.perf_counter()
    summary = ingest_directory(dicom_dir, catalog, workers=FLAGS.workers,
                               progress=sys.stderr.isatty())
    elapsed = time.perf_counter() - start
    print(f"create_database ({FLAGS.workers} workers): {summary.ingested / elapsed:.1f} files/s")
    start = time.perf_counter()
    fetched_count = fetch_images(catalog, fetched, None, progress=sys.stderr.isatty()).written
    print(f"fetch_image: {fetched_count / (time.perf_counter() - start):.1f} images/s")
    catalog.dispose()
    if summary.ingested != count or fetched_count != count:
        raise SystemExit(f"expected {count} images, ingested {summary.ingested}, "
                         f"fetched {fetched_count}")
    for name in sorted(os.listdir(os.path.join(fetched, "images"))):
        stem = name[:-4]
        with open(os.path.join(fetched, "labels", f"{stem}.txt")) as handle:
            label = handle.read().strip()
        class_dir = os.path.join(root, "by_class", label)
        os.makedirs(class_dir, exist_ok=True)
        os.link(os.path.join(fetched, "images", name), os.path.join(class_dir, name))


FORMATS = ("planar", "png", "raw")


def convert_ours(root: str, image_format: str,
                 max_size: int | None = None) -> tuple[str, float, int]:
    from datasets.records.conversion import ConversionSettings, convert

    out = os.path.join(root, f"records_{image_format}_{max_size or 'full'}")
    shutil.rmtree(out, ignore_errors=True)
    settings = ConversionSettings(
        "dicom", os.path.join(root, "fetched"), out, "dicom_train", need_split="tvt_split",
        num_workers=FLAGS.workers, progress=False, image_format=image_format,
        max_image_size=max_size,
    )
    start = time.perf_counter()
    result = convert(settings)
    elapsed = time.perf_counter() - start
    splits = result.spec.splits.values()
    return (out, sum(s.num_examples for s in splits) / elapsed,
            sum(s.num_bytes for s in splits))


def convert_tf_slim_style(root: str) -> float:
    """The TF-Slim download_and_convert loop: one process, decode each image for its size."""
    import io

    import tensorflow as tf
    from PIL import Image

    images = os.path.join(root, "fetched", "images")
    names = sorted(os.listdir(images))
    classes = sorted(os.listdir(os.path.join(root, "by_class")))
    out = os.path.join(root, "slim_records")
    os.makedirs(out, exist_ok=True)
    start = time.perf_counter()
    with tf.io.TFRecordWriter(os.path.join(out, "slim.tfrecord")) as writer:
        for name in names:
            with open(os.path.join(images, name), "rb") as handle:
                data = handle.read()
            with Image.open(io.BytesIO(data)) as pil:
                pil.load()
                width, height = pil.size
            stem = name[:-4]
            with open(os.path.join(root, "fetched", "labels", f"{stem}.txt")) as handle:
                label = classes.index(handle.read().strip().upper())
            feature = {
                "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[data])),
                "image/format": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"png"])),
                "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
                "image/height": tf.train.Feature(int64_list=tf.train.Int64List(value=[height])),
                "image/width": tf.train.Feature(int64_list=tf.train.Int64List(value=[width])),
            }
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            writer.write(example.SerializeToString())
    elapsed = time.perf_counter() - start
    shutil.rmtree(out)
    return len(names) / elapsed


def _epoch_rate(dataset) -> float:
    count, start = 0, time.perf_counter()
    for images, _ in dataset:
        count += int(images.shape[0])
    return count / (time.perf_counter() - start)


def pipeline_ours(records: str):
    from datasets.dataset_factory import get_dataset

    _, dataset = get_dataset(
        "dicom", "train", records, batch_size=FLAGS.batch_size, is_training=True,
        augment=None, image_size=(FLAGS.image_size, FLAGS.image_size), channels=1,
        num_epochs=1,
    )
    return dataset


def pipeline_keras(root: str, train_ids: set[str]):
    import keras

    by_class = os.path.join(root, "by_class_train")
    if not os.path.isdir(by_class):  # the same training images as ours, linked
        for label in os.listdir(os.path.join(root, "by_class")):
            os.makedirs(os.path.join(by_class, label), exist_ok=True)
            for name in os.listdir(os.path.join(root, "by_class", label)):
                if name[:-4] in train_ids:
                    os.link(os.path.join(root, "by_class", label, name),
                            os.path.join(by_class, label, name))
    dataset = keras.utils.image_dataset_from_directory(
        by_class, labels="inferred", color_mode="grayscale", batch_size=FLAGS.batch_size,
        image_size=(FLAGS.image_size, FLAGS.image_size), shuffle=True, seed=0, verbose=False,
    )
    return dataset


def main(argv: list[str]) -> None:
    from datasets.records.dataset_spec import read_spec
    from datasets.records.record_reader import iter_split

    root = FLAGS.work_dir
    make_images(root, FLAGS.num_images, FLAGS.size, FLAGS.source)
    origin = "fetched from the catalog" if FLAGS.source == "dicom" else "written directly"
    print(f"{FLAGS.num_images} synthetic {FLAGS.size}x{FLAGS.size} 16-bit PNGs ({origin}) "
          f"in {root}")
    slim_convert = convert_tf_slim_style(root)
    records = {}
    print(f"conversion, {FLAGS.num_images} images:")
    print(f"  TF-Slim-style converter (1 process):        {slim_convert:8.1f} images/s")
    for image_format in FORMATS:
        records[image_format], rate, size = convert_ours(root, image_format)
        print(f"  tf_convert_data --image_format={image_format} ({FLAGS.workers} workers): "
              f"{rate:8.1f} images/s  ratio {rate / slim_convert:.2f}x  "
              f"{size / FLAGS.num_images / 1024:7.1f} KiB/image on disk")
    if FLAGS.max_image_size:
        for image_format in FORMATS:
            records[f"scaled_{image_format}"], rate, size = convert_ours(
                root, image_format, FLAGS.max_image_size)
            print(f"  tf_convert_data --image_format={image_format} --max_image_size="
                  f"{FLAGS.max_image_size} ({FLAGS.workers} workers): {rate:8.1f} images/s  "
                  f"ratio {rate / slim_convert:.2f}x  "
                  f"{size / FLAGS.num_images / 1024:7.1f} KiB/image on disk")
    spec = read_spec(records["png"])
    train_ids = {e.example_id for e in iter_split(spec, "train", records["png"])}
    pipelines = {
        "keras image_dataset_from_directory (PNG files)": pipeline_keras(root, train_ids),
        **{f"medcv get_dataset, {f} records": pipeline_ours(records[f]) for f in FORMATS},
    }
    if FLAGS.max_image_size:
        for image_format in FORMATS:
            name = f"medcv get_dataset, {image_format} records at {FLAGS.max_image_size}"
            pipelines[name] = pipeline_ours(records[f"scaled_{image_format}"])
    best = dict.fromkeys(pipelines, 0.0)
    for _ in range(FLAGS.epochs):  # interleaved, so machine noise hits every pipeline alike
        for name, dataset in pipelines.items():
            best[name] = max(best[name], _epoch_rate(dataset))
    print(f"input pipeline, {len(train_ids)} train images -> {FLAGS.image_size}x"
          f"{FLAGS.image_size}, batch {FLAGS.batch_size}, best of {FLAGS.epochs} epochs each:")
    peer = best["keras image_dataset_from_directory (PNG files)"]
    cores = os.cpu_count() or 1
    for name, rate in best.items():
        print(f"  {name:48s} {rate:8.1f} images/s ({rate / cores:6.1f} per core)  "
              f"ratio {rate / peer:.2f}x")
    print(f"{os.cpu_count()} cores; targets (issue 21): the default (planar) records >= 1.5x "
          "the Keras peer at 256 px, >= 5x at 2048 px with --max_image_size=512")


if __name__ == "__main__":
    app.run(main)
