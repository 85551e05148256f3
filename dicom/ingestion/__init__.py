"""The catalog database and what fills and reads it: ingest, fetch."""
