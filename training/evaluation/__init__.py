"""Evaluation of a checkpoint on a split (eval_image_classifier)."""
