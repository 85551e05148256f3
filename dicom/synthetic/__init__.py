"""Synthetic DICOM: phantoms, radiographs, cardiac MR with planted defects."""
