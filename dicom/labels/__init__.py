"""Label tables (ChestX-ray14, CheXpert, a spreadsheet) into the catalog as label sets."""
