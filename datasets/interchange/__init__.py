"""Data in and out of other layouts: archives, image folders, HDF5."""
