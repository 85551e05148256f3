"""What every command shares at the console: one-line errors, a quiet start-up."""
