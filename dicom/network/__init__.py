"""PACS I/O: pull from DICOMweb or DIMSE, receive C-STORE, into the one ingest path."""
