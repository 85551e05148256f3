"""TFRecords: encoding, conversion with splits, the dataset spec, tfds metadata."""
