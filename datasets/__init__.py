"""TFRecord conversion, the dataset spec, tf.data input pipelines, archives and HDF5."""

import os

# TensorFlow's C++ INFO lines (oneDNN, CUDA probing, CPU features) bury our own
# one-line messages; warnings and errors still show. Set the variable to 0 to see all.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
