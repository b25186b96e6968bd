"""keepclear: deconfliction between parties whose forces share the same space."""

__version__ = "0.1.0"

__all__ = ["__version__"]
