"""Running per-element work on Apache Beam (ingest, conversion) for many machines."""
