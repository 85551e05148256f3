"""Segmentation: losses, metrics (Dice, IoU, HD95) and sliding-window prediction."""
