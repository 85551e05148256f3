"""DICOM bytes to display-ready pixels: reading, modality/VOI LUTs, photometry."""
