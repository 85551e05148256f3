"""DICOM side of medcv: reading, display conversion, cleansing, the catalog and its CLIs."""
