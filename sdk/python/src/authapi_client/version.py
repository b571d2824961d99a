"""The package version, in one place (pyproject.toml says it too; a test compares them)."""

__version__ = "0.1.0"
