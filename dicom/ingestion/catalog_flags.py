"""--db_url, the flag every command that opens the catalog shares, spelled once."""

from __future__ import annotations

from absl import flags

from dicom.ingestion.database_url import DEFAULT_DB_URL

# Flags defined here belong to the command that asks for them (its --help lists them).
flags.disclaim_key_flags()

DB_URL_HELP = (
    "Catalog database URL. Default: $MEDCV_DB_URL, else "
    f"{DEFAULT_DB_URL} in the working directory. MySQL/MariaDB: "
    "mysql://user@host/db, the password in $MEDCV_DB_PASSWORD or a MySQL option "
    "file (~/.my.cnf); PostgreSQL: postgresql://user@host/db, the password in "
    "$MEDCV_DB_PASSWORD or ~/.pgpass.")


def define_db_url_flag() -> None:
    """--db_url: the catalog a command opens, with the help every such command shows."""
    flags.DEFINE_string("db_url", None, DB_URL_HELP)
