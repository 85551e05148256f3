"""classify_image's work: inputs from files, records or the catalog; predictions as text;
DICOM results written and stored to a PACS. The command holds its flags only."""
