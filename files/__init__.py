"""File helpers every package uses: atomic writes, the PNG codec, folder layout."""
