"""Cardiac MR contours to masks: rasterisation, pairing, QC, HDF5."""
