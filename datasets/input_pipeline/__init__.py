"""tf.data: decoding, framing, augmentation, batching."""
