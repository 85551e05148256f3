"""Synthetic 2-D data: the shapes segmentation set."""
