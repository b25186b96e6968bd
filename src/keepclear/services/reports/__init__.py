"""Reports rendered from what the services give: incident reports, after-action reports.

The figures need matplotlib, the ``reports`` extra (``pip install 'keepclear[reports]'``): without it
an incident report says its map is missing, and ``keepclear replay`` refuses before it starts.
"""

from __future__ import annotations

import importlib.util

from keepclear.errors import KeepclearError

#: What to tell whoever asks for a figure on an installation without the ``reports`` extra.
MISSING_MATPLOTLIB = (
    "the report's figures need matplotlib: install keepclear with the reports extra (pip install 'keepclear[reports]')"
)


class ReportsUnavailable(KeepclearError):
    """A report needs matplotlib, which this installation lacks."""


def figures_available() -> bool:
    """Whether matplotlib (the ``reports`` extra) is installed."""
    try:
        return importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):  # blocked (``sys.modules["matplotlib"] = None``) or broken
        return False


def require_figures() -> None:
    """Raise ``ReportsUnavailable`` unless matplotlib is installed."""
    if not figures_available():
        raise ReportsUnavailable(MISSING_MATPLOTLIB)
