"""Beam wiring of matchtag: options, one transform per stage, the CLI."""
