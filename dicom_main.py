"""The seed's "native" ResNet trainer, with the official ResNet model's flags.

    python dicom_main.py --data_dir=RECORDS --model_dir=DIR --train_epochs=100 \\
      --epochs_between_evals=1 --batch_size=32 --version=2 --resnet_size=152 \\
      --multi_gpu=False

Trains resnet_v{version}_{resnet_size} with the same loop, checkpoints and
summaries as train_image_classifier.py, evaluating on the validation split (else
test) every --epochs_between_evals epochs. Optimizer as the official model:
momentum 0.9, learning rate 0.1 x batch/256 divided by 10 every 30 epochs,
weight decay 1e-4.
"""

from __future__ import annotations

import logging
import os

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)

FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", None, "tf_convert_data output directory.", short_name="dd")
flags.DEFINE_string("model_dir", "/tmp/resnet_model", "Checkpoints and summaries.",
                    short_name="md")
flags.DEFINE_float("train_epochs", 100, "Epochs to train.", short_name="te")
flags.DEFINE_float("epochs_between_evals", 1, "Epochs between evaluations.", short_name="ebe")
flags.DEFINE_float("stop_threshold", None, "Stop when evaluation accuracy reaches this.",
                   short_name="st")
flags.DEFINE_integer("batch_size", 32, "Examples per step (over all GPUs).", short_name="bs")
flags.DEFINE_enum("version", "2", ["1", "2"], "ResNet version.", short_name="rv")
flags.DEFINE_enum("resnet_size", "50", ["18", "34", "50", "101", "152", "200"],
                  "ResNet depth.", short_name="rs")
flags.DEFINE_integer("num_gpus", None, "GPUs to train on (0: CPU); default: all visible "
                     "with --multi_gpu, else one device.", short_name="ng")
flags.DEFINE_boolean("multi_gpu", False, "Train on every visible GPU (MirroredStrategy).")
flags.DEFINE_enum("dtype", "fp32", ["fp16", "fp32"], "fp16: mixed precision.", short_name="dt")
flags.DEFINE_float("loss_scale", None, "Initial loss scale under fp16 (dynamic).",
                   short_name="ls")
flags.DEFINE_enum("data_format", None, ["channels_first", "channels_last"],
                  "Accepted; Keras runs channels_last and the GPU library picks its layout.",
                  short_name="df")
flags.DEFINE_string("export_dir", None, "Write a SavedModel here at the end.", short_name="ed")
flags.DEFINE_boolean("use_synthetic_data", False, "Random data: measures the model alone.",
                     short_name="synth")
flags.DEFINE_integer("max_train_steps", None, "Stop after this many steps in all.",
                     short_name="mts")
flags.DEFINE_integer("inter_op_parallelism_threads", 0, "0: TensorFlow's choice.",
                     short_name="inter")
flags.DEFINE_integer("intra_op_parallelism_threads", 0, "0: TensorFlow's choice.",
                     short_name="intra")
flags.DEFINE_list("hooks", ["LoggingTensorHook"],
                  "LoggingTensorHook (loss and accuracy lines), ExamplesPerSecondHook "
                  "(examples/s on the same lines): both are built into the loop's logging.",
                  short_name="hk")
flags.DEFINE_integer("image_size", None, "Input size; default 224.", short_name="is")
flags.DEFINE_integer("log_every_n_steps", 100, "Steps between log lines.")
flags.DEFINE_float("learning_rate", None, "Initial rate; default 0.1 x batch_size / 256.")
flags.DEFINE_string("benchmark_log_dir", None, "Accepted; see --bigquery_uploader.",
                    short_name="bld")
flags.DEFINE_string("gcp_project", None, "Accepted; see --bigquery_uploader.", short_name="gp")
flags.DEFINE_string("bigquery_data_set", None, "Accepted; see --bigquery_uploader.",
                    short_name="bds")
flags.DEFINE_string("bigquery_run_table", None, "Accepted; see --bigquery_uploader.",
                    short_name="brt")
flags.DEFINE_string("bigquery_metric_table", None, "Accepted; see --bigquery_uploader.",
                    short_name="bmt")
flags.DEFINE_boolean("bigquery_uploader", False,
                     "Accepted for compatibility: uploading benchmark results is not "
                     "supported; metrics are written to MODEL_DIR/eval_*/metrics.json.")

flags.DEFINE_string("pretrained_model_checkpoint_path", None,
                    "Fine-tune from this checkpoint: TF-Slim's resnet_v1/v2 zoo file "
                    "(resnet_v2_50.ckpt), a TF-Slim or medcv train_dir or model.ckpt-N. "
                    "Everything but the logits (--exclude_scopes) is restored.",
                    short_name="pmcp")
flags.DEFINE_list("exclude_scopes", None,
                  "Scopes not restored from --pretrained_model_checkpoint_path; default: the "
                  "net's logits (resnet_vV_S/logits).")

def main(argv: list[str]) -> int:
    """Trains and evaluates the seed's ResNet in cycles, as TF's official resnet_main did; returns
    the exit code."""
    from console.errors import require_no_arguments, run_cli

    require_no_arguments(argv)
    logging.getLogger().setLevel(logging.INFO)

    def run() -> int:
        import tensorflow as tf

        from training.loop.resnet_main import resnet_main_settings, result_line
        from training.loop.train_and_evaluate import train_and_evaluate

        tf.config.threading.set_inter_op_parallelism_threads(FLAGS.inter_op_parallelism_threads)
        tf.config.threading.set_intra_op_parallelism_threads(FLAGS.intra_op_parallelism_threads)
        settings = resnet_main_settings(FLAGS)
        result = train_and_evaluate(settings, FLAGS.train_epochs, FLAGS.epochs_between_evals,
                                    FLAGS.stop_threshold, FLAGS.max_train_steps)
        print(result_line(settings, result))
        if FLAGS.export_dir:
            from training.serving.export import export_saved_model

            export_saved_model(os.path.join(FLAGS.model_dir), FLAGS.export_dir)
            print(f"exported a SavedModel to {FLAGS.export_dir}")
        return 0

    return run_cli(run, "The latest checkpoint was saved; re-run to resume.")


if __name__ == "__main__":
    app.run(main)
