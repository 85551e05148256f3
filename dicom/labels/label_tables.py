"""Read a label table: ChestX-ray14's Data_Entry_2017.csv, CheXpert's train.csv (and
MIMIC-CXR-JPG's chexpert.csv), or any table of key and label columns.

Values are 1 (positive), 0 (negative), -1 (uncertain, CheXpert's -1.0); a blank cell is
"not mentioned" and stored as nothing. Every problem is one line naming the file, the
row and the column, raised before anything is imported.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

CHESTXRAY14, CHEXPERT, COLUMNS = "chestxray14", "chexpert", "columns"
FORMATS = (CHESTXRAY14, CHEXPERT, COLUMNS)
POSITIVE, NEGATIVE, UNCERTAIN = 1, 0, -1
NO_FINDING = "No Finding"
CHEXPERT_OBSERVATIONS = (
    "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion",
    "Edema", "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion",
    "Pleural Other", "Fracture", "Support Devices")
# The key column each format is usually matched by, and against which catalog column.
DEFAULT_KEYS = {CHESTXRAY14: ("Image Index", "source_path"), CHEXPERT: ("Path", "source_path")}
_SAFE_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.()+-]{0,63}$")
_VALUES = {"1": POSITIVE, "1.0": POSITIVE, "true": POSITIVE, "yes": POSITIVE,
           "0": NEGATIVE, "0.0": NEGATIVE, "false": NEGATIVE, "no": NEGATIVE,
           "-1": UNCERTAIN, "-1.0": UNCERTAIN, "uncertain": UNCERTAIN}
MAX_TABLE_BYTES = 2 << 30


class LabelTableError(ValueError):
    """A table that cannot be imported; the message names the file, row and column."""


@dataclass
class LabelTable:
    path: str
    key_column: str
    labels: list[str]
    rows: list[tuple[int, str, dict[str, int]]] = field(default_factory=list)
    """(row number in the file, key, {label: value}) for every data row."""


def read_table(path: str, table_format: str, key_column: str | None = None,
               label_columns: list[str] | None = None) -> LabelTable:
    """The label table at `path` in `table_format`, its key and label columns chosen or inferred;
    raises LabelTableError naming the file, the row or the column at fault."""
    if table_format not in FORMATS:
        raise LabelTableError(f"--format {table_format}: one of {', '.join(FORMATS)}")
    text = _text(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise LabelTableError(f"{path}: the file is empty") from None
    except csv.Error as exc:
        raise LabelTableError(f"{path} row 1: {exc}") from None
    header = [h.strip() for h in header]
    if not any(header):
        raise LabelTableError(f"{path}: the first row names no columns")
    key_column = key_column or DEFAULT_KEYS.get(table_format, (None,))[0]
    if not key_column:
        raise LabelTableError("--key TABLE_COLUMN=CATALOG_COLUMN is required with --format "
                              "columns")
    if key_column not in header:
        raise LabelTableError(f"{path}: no key column {key_column!r} (columns: "
                              f"{', '.join(header[:12])})")
    key_index = header.index(key_column)
    if table_format == CHESTXRAY14:
        if "Finding Labels" not in header:
            raise LabelTableError(f"{path}: no 'Finding Labels' column (a ChestX-ray14 table "
                                  "has Image Index, Finding Labels, ...)")
        return _chestxray14(path, reader, header, key_index)
    columns = label_columns or ([c for c in CHEXPERT_OBSERVATIONS if c in header]
                                if table_format == CHEXPERT else
                                [c for i, c in enumerate(header) if i != key_index and c])
    missing = [c for c in columns if c not in header]
    if missing:
        raise LabelTableError(f"{path}: no label column {missing[0]!r}")
    if not columns:
        raise LabelTableError(f"{path}: no label columns (CheXpert's are "
                              f"{', '.join(CHEXPERT_OBSERVATIONS[:3])}, ...)")
    for name in columns:
        _check_label_name(path, name, "column header")
    table = LabelTable(path, key_column, list(columns))
    indexes = [(header.index(c), c) for c in columns]
    for number, row in _rows(path, reader):
        key = _cell(row, key_index)
        if not key:
            raise LabelTableError(f"{path} row {number} column {key_column!r}: no key")
        values = {}
        for index, name in indexes:
            cell = _cell(row, index)
            if cell == "":
                continue
            value = _VALUES.get(cell.lower())
            if value is None:
                raise LabelTableError(f"{path} row {number} column {name!r}: {cell[:20]!r} is "
                                      "not 1, 0, -1 or blank")
            values[name] = value
        table.rows.append((number, key, values))
    return table


def _chestxray14(path: str, reader, header: list[str], key_index: int) -> LabelTable:
    """`Cardiomegaly|Effusion` positive, every other finding of the table negative;
    `No Finding` negative for all."""
    findings_index = header.index("Finding Labels")
    parsed = []
    names: set[str] = set()
    for number, row in _rows(path, reader):
        key = _cell(row, key_index)
        if not key:
            raise LabelTableError(f"{path} row {number} column {header[key_index]!r}: no key")
        cell = _cell(row, findings_index)
        found = [f.strip() for f in cell.split("|") if f.strip()]
        if not found:
            raise LabelTableError(f"{path} row {number} column 'Finding Labels': empty (write "
                                  "'No Finding')")
        positives = [f for f in found if f != NO_FINDING]
        if positives and len(positives) != len(found):
            raise LabelTableError(f"{path} row {number} column 'Finding Labels': 'No Finding' "
                                  "together with findings")
        for name in positives:
            _check_label_name(path, name, f"row {number} column 'Finding Labels'")
        names.update(positives)
        parsed.append((number, key, positives))
    labels = sorted(names)
    table = LabelTable(path, header[key_index], labels)
    for number, key, positives in parsed:
        table.rows.append((number, key, {n: POSITIVE if n in positives else NEGATIVE
                                         for n in labels}))
    return table


def _text(path: str) -> str:
    from files.regular_file import read_regular_file

    try:
        data = read_regular_file(path, MAX_TABLE_BYTES)
    except OSError as exc:
        raise LabelTableError(f"{path}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")  # Excel writes a BOM
    except UnicodeDecodeError as exc:
        row = data[:exc.start].count(b"\n") + 1
        raise LabelTableError(f"{path} row {row}: not UTF-8 (byte 0x{data[exc.start]:02x}); "
                              "save the table as UTF-8 CSV") from None


def _rows(path: str, reader):
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            yield reader.line_num, row
    except csv.Error as exc:
        raise LabelTableError(f"{path} row {reader.line_num}: {exc}") from None


def _cell(row: list[str], index: int) -> str:
    return row[index].strip() if index < len(row) else ""


def _check_label_name(path: str, name: str, where: str) -> None:
    if not _SAFE_LABEL.match(name) or ".." in name:
        raise LabelTableError(f"{path} {where}: label {name[:40]!r} cannot name a file or a "
                              "feature (letters, digits, space, _ . ( ) + -; at most 64)")


def check_duplicates(table: LabelTable) -> None:
    """A key given twice must carry the same labels both times."""
    seen: dict[str, tuple[int, dict[str, int]]] = {}
    for number, key, values in table.rows:
        if key in seen and seen[key][1] != values:
            first, other = seen[key]
            column = next((n for n in table.labels if other.get(n) != values.get(n)), "?")
            raise LabelTableError(f"{table.path} rows {first} and {number}: key {key[:60]!r} "
                                  f"twice with conflicting labels (column {column!r})")
        seen.setdefault(key, (number, values))
