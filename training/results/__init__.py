"""DICOM results: classifications as Comprehensive 3D SR, segmentations as DICOM SEG."""
