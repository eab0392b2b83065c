"""The package version (its own module so that subpackages need not import the package root)."""

__version__ = "0.1.0"
