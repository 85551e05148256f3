"""Batch prediction images/s: classify_image's path against a per-image predict loop.

    make bench-classify   (or: python -m bench.classify --num_images 500)

Both classify the same 500 16-bit PNG files with the same checkpoint: ours
through training.serving.prediction (what classify_image.py runs: decode, batch of
--batch_size, one compiled forward pass per batch); the peer decodes each file
the same way and calls `model.predict` on it alone, as the seed's script did.
Model loading is outside both timings. Target (issue 4): ours >= 5x the peer.
"""

from __future__ import annotations

import os
import time

import numpy as np
from absl import app, flags

from bench.train_step import tiny_dataset  # also defines --model_name, --image_size, --work_dir

FLAGS = flags.FLAGS
flags.DEFINE_integer("num_images", 500, "Images to classify.")
flags.DEFINE_integer("classify_batch_size", 32, "classify_image --batch_size.")
flags.DEFINE_string("classify_work_dir", "bench_output/classify", "Scratch directory.")


def make_inputs(root: str) -> tuple[str, list[str]]:
    from dicom.synthetic.phantoms import BODY_PARTS, radiograph
    from files.png_codec import write_image

    folder = os.path.join(root, "images")
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(1)
    paths = []
    for index in range(FLAGS.num_images):
        path = os.path.join(folder, f"{index:05d}.png")
        if not os.path.exists(path):
            image = radiograph(BODY_PARTS[index % 4], 128, rng)
            write_image(path, (image * 65535).round().astype(np.uint16))
        paths.append(path)
    listing = os.path.join(root, "input.txt")
    with open(listing, "w") as handle:
        handle.write("\n".join(paths) + "\n")
    return listing, paths


def checkpoint(root: str) -> str:
    """A one-step checkpoint: prediction cost does not depend on how trained it is."""
    from training.loop.trainer import TrainSettings, train

    train_dir = os.path.join(root, "train")
    if not os.path.exists(os.path.join(train_dir, "checkpoint")):
        records = tiny_dataset(root)
        train(TrainSettings(train_dir=train_dir, dataset_dir=records,
                            model_name=FLAGS.model_name, train_image_size=FLAGS.image_size,
                            batch_size=4, max_number_of_steps=1))
    return train_dir


def main(argv: list[str]) -> None:
    from datasets.records.record_images import load_record_image
    from training.serving.prediction import Predictor, inputs_for, predict, to_model_input

    os.makedirs(FLAGS.classify_work_dir, exist_ok=True)
    listing, paths = make_inputs(FLAGS.classify_work_dir)
    train_dir = checkpoint(FLAGS.classify_work_dir)
    predictor = Predictor.load(train_dir)
    config = predictor.config
    batch = FLAGS.classify_batch_size
    list(predict(predictor, inputs_for(listing, False, config), batch))  # warm-up
    start = time.perf_counter()
    ours = list(predict(predictor, inputs_for(listing, False, config), batch))
    ours_rate = len(ours) / (time.perf_counter() - start)

    import keras

    from training.loop.model_loading import load_model

    net = load_model(train_dir).model
    model = keras.Model(net.inputs, net.output["logits"])
    model.predict(np.zeros((1, config.image_size, config.image_size, config.channels)),
                  verbose=0)
    start = time.perf_counter()
    peer = []
    for path in paths:
        stored = load_record_image(path)
        image = to_model_input(stored.data, stored.format, config.input_spec())
        peer.append(model.predict(image[np.newaxis], verbose=0)[0])
    peer_rate = len(peer) / (time.perf_counter() - start)
    ours_labels = [int(np.argmax(p.probabilities)) for p in ours]
    agree = np.mean([a == int(np.argmax(b)) for a, b in zip(ours_labels, peer, strict=True)])
    print(f"{len(paths)} PNGs (128x128, 16-bit) -> {config.model_name} at "
          f"{config.image_size}x{config.image_size}:")
    print(f"  classify_image path (batch {batch}):  {ours_rate:8.1f} images/s")
    print(f"  per-image model.predict loop:       {peer_rate:8.1f} images/s")
    print(f"  ratio {ours_rate / peer_rate:.2f}x (target >= 5x); same top class on "
          f"{agree:.0%} of images")


if __name__ == "__main__":
    app.run(main)
