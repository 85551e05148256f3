"""TFRecord conversion, the dataset spec, tf.data input pipelines, archives and HDF5."""
