"""DICOM attributes: cleansing, canonical body part, de-identification."""
