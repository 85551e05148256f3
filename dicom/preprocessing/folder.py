"""Apply a preprocessing method to every image of a fetched folder."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field

from tqdm import tqdm

from dicom.preprocessing.methods import clamp_value, preprocess
from files.atomic_file import write_atomic
from files.folder_layout import (
    IMAGES_DIR,
    LABELS_CSV,
    LABELS_DIR,
    MASKS_DIR,
    METADATA_FILE,
    folder_preprocessing,
    record_folder_preprocessing,
)
from files.png_codec import encode_png, read_image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass
class PreprocessSummary:
    written: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    output_directory: str = ""


def images_folder(directory: str) -> str:
    """`DIR/images` for a fetched folder, else DIR itself."""
    nested = os.path.join(directory, IMAGES_DIR)
    return nested if os.path.isdir(nested) else directory


def default_output_directory(directory: str, method: str, value: int) -> str:
    """Where a folder's preprocessed images go when no output is named: beside it, named by method
    and value."""
    return f"{os.path.normpath(directory)}_{method}_{value}"


def preprocess_folder(
    directory: str,
    method: str,
    value: int,
    output_directory: str | None,
    in_place: bool = False,
    progress: bool = True,
) -> PreprocessSummary:
    """Write preprocessed images; labels/ and metadata.csv are copied alongside, and the
    method and value are recorded in the output's metadata.csv (the data set carries them
    to its records, its run config and every consumer of the trained model)."""
    if not os.path.isdir(directory):
        raise NotADirectoryError(f"--directory {directory} is not a directory")
    value = clamp_value(method, value)
    earlier = folder_preprocessing(directory)
    if earlier is not None:
        raise ValueError(f"{directory} is already preprocessed ({earlier[0]} {earlier[1]}, "
                         f"recorded in its {METADATA_FILE}); preprocess the original folder")
    source = images_folder(directory)
    if in_place:
        if output_directory:
            raise ValueError("--in_place and --output_directory exclude each other")
        target_root = directory
    else:
        target_root = output_directory or default_output_directory(directory, method, value)
        if os.path.abspath(target_root) == os.path.abspath(directory):
            raise ValueError("--output_directory is the input; use --in_place to overwrite")
    target = os.path.join(target_root, IMAGES_DIR) if source != directory else target_root
    os.makedirs(target, exist_ok=True)
    if not in_place:
        for extra in (LABELS_DIR, MASKS_DIR):
            if os.path.isdir(os.path.join(directory, extra)):
                shutil.copytree(
                    os.path.join(directory, extra),
                    os.path.join(target_root, extra),
                    dirs_exist_ok=True,
                )
        for extra in (METADATA_FILE, LABELS_CSV):
            if os.path.isfile(os.path.join(directory, extra)):
                shutil.copy2(os.path.join(directory, extra), target_root)
    names = sorted(n for n in os.listdir(source) if n.lower().endswith(IMAGE_SUFFIXES))
    summary = PreprocessSummary(output_directory=target_root)
    stems: list[str] = []
    for name in tqdm(names, unit="image", desc=method, disable=not progress, file=sys.stderr):
        try:
            image = read_image(os.path.join(source, name))
            result = preprocess(image, method, value)
        except (OSError, ValueError) as exc:
            summary.failed.append((name, " ".join(str(exc).split())))
            continue
        stem = os.path.splitext(name)[0]
        write_atomic(os.path.join(target, f"{stem}.png"), encode_png(result))
        summary.written += 1
        stems.append(stem)
    record_folder_preprocessing(target_root, method, value, stems)
    return summary
