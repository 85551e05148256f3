"""Our nets' training step on a GPU, Keras 3 on any backend, against torchvision's.

    KERAS_BACKEND=jax python -m bench.gpu_nets [--nets=resnet_v1_50,mobilenet_v2]

For a machine that has a GPU but not TensorFlow (a JAX or PyTorch image): nets/ is
plain Keras 3, so its TF-Slim-faithful nets train on JAX's GPU backend too. Each net
trains on four device-resident batches with SGD (momentum 0.9) and softmax
cross-entropy, one compiled Keras `train_on_batch` call a step, against the same
architecture from torchvision trained by a plain PyTorch loop on the same GPU, batch
and size (the peer), in float32 and in mixed bfloat16. Compilation and warm-up steps
are excluded. Prints images/s and the ratio; `make bench-train` measures our own
TensorFlow loop where TensorFlow is.
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np
from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_list("nets", ["resnet_v1_50", "mobilenet_v2"], "Our nets to train.")
flags.DEFINE_integer("batch_size", 128, "Batch size.")
flags.DEFINE_integer("image_size", 224, "Input size.")
flags.DEFINE_integer("steps", 100, "Timed steps per net and precision.")
flags.DEFINE_list("precisions", ["fp32", "mixed"], "fp32, and mixed bfloat16.")
flags.DEFINE_string("json", None, "Also write the figures here.")

PEERS = {"resnet_v1_50": "resnet50", "mobilenet_v2": "mobilenet_v2"}


def _ours(net: str, batch: int, size: int, steps: int, mixed: bool) -> float:
    import keras

    from nets.nets_factory import build_model

    keras.mixed_precision.set_global_policy("mixed_bfloat16" if mixed else "float32")
    keras.utils.set_random_seed(0)
    model = build_model(net, 1000, size)
    model.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss={"logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
        loss_weights={"logits": 1.0, **({"aux_logits": 0.0} if "aux_logits" in
                                       model.output_names else {})},
        jit_compile=keras.backend.backend() != "torch")  # XLA on JAX and TensorFlow
    rng = np.random.default_rng(0)
    images = rng.random((4 * batch, size, size, 3), dtype=np.float32)
    labels = {"logits": rng.integers(0, 1000, 4 * batch)}
    if "aux_logits" in model.output_names:
        labels["aux_logits"] = labels["logits"]
    # The batches live on the device, as the peer's do; each step is one compiled call.
    batches = [(keras.ops.convert_to_tensor(images[i * batch:(i + 1) * batch]),
                {k: keras.ops.convert_to_tensor(v[i * batch:(i + 1) * batch])
                 for k, v in labels.items()}) for i in range(4)]
    for index in range(8):  # compile, warm up
        model.train_on_batch(*batches[index % 4])
    start = time.perf_counter()
    for index in range(steps):
        logs = model.train_on_batch(*batches[index % 4], return_dict=True)
    float(logs["loss"])  # the last step has finished
    elapsed = time.perf_counter() - start
    keras.mixed_precision.set_global_policy("float32")
    return steps * batch / elapsed


def _peer(net: str, batch: int, size: int, steps: int, mixed: bool) -> float:
    import torch
    import torchvision

    torch.manual_seed(0)
    device = torch.device("cuda")
    model = getattr(torchvision.models, PEERS[net])(num_classes=1000).to(device)
    model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    images = torch.rand(4, batch, 3, size, size, device=device).contiguous(
        memory_format=torch.preserve_format)
    labels = torch.randint(0, 1000, (4, batch), device=device)

    def step(index: int) -> None:
        x = images[index % 4].contiguous(memory_format=torch.channels_last)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=mixed):
            loss = loss_fn(model(x), labels[index % 4])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for index in range(8):
        step(index)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for index in range(steps):
        step(index)
    torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - start)


def main(argv: list[str]) -> int:
    del argv
    import keras

    print(f"Keras {keras.__version__} on {keras.backend.backend()}", flush=True)
    figures = []
    for net in FLAGS.nets:
        for precision in FLAGS.precisions:
            mixed = precision == "mixed"
            ours = _ours(net, FLAGS.batch_size, FLAGS.image_size, FLAGS.steps, mixed)
            try:
                peer = _peer(net, FLAGS.batch_size, FLAGS.image_size, FLAGS.steps, mixed)
            except Exception as exc:  # no torch, no GPU: our figure still stands
                print(f"  peer unavailable: {exc}", file=sys.stderr)
                peer = float("nan")
            row = {"net": net, "precision": precision, "batch": FLAGS.batch_size,
                   "size": FLAGS.image_size, "ours": round(ours, 1),
                   "torchvision": round(peer, 1), "ratio": round(ours / peer, 3)}
            figures.append(row)
            print(f"{net} {precision} batch {FLAGS.batch_size} at {FLAGS.image_size}: ours "
                  f"{ours:.1f} images/s, torchvision {PEERS[net]} {peer:.1f}: "
                  f"{ours / peer:.2f}x", flush=True)
    if FLAGS.json:
        with open(FLAGS.json, "w") as handle:
            json.dump({"device": os.environ.get("DEVICE_NAME", ""), "figures": figures},
                      handle, indent=2)
    return 0


if __name__ == "__main__":
    app.run(main)
