"""What a label ensemble is drawn with (step 1). The fields users set are also the flags of
`generate_labels` and `generate_training_data`, spelled here once; the module is light, so
that a command's --help does not load SciPy."""

from __future__ import annotations

from dataclasses import dataclass

from console.options import option


@dataclass(frozen=True)
class EnsembleSettings:
    """The draw of one ensemble: its size, how many shapes, and how they are warped."""

    side_length: int = option(128, "Side of the cubic volumes (voxels).")
    min_templates: int = option(20, "Fewest shapes per ensemble.")
    max_templates: int = option(39, "Most shapes per ensemble.")
    foreground_probability: float = 2 / 3
    shell_probability: float = 0.5
    scale_range: tuple[float, float] = (0.5, 1.5)
    rotation_degrees: float = 180.0
    translation_voxels: float = 5.0
    shear: float = 0.5
    median_size: int = 3

    def __post_init__(self) -> None:
        if not 1 <= self.min_templates <= self.max_templates <= 253:
            raise ValueError(f"--min_templates {self.min_templates} and --max_templates "
                             f"{self.max_templates} must satisfy 1 <= min <= max <= 253 "
                             "(labels are uint8, two more for the foreground and its shell)")
        if self.side_length < 16:
            raise ValueError(f"--side_length must be at least 16, got {self.side_length}")
