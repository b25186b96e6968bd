"""The input formats by name."""

from __future__ import annotations

from keepclear.interop.cot import CotDecoder
from keepclear.interop.gateway import Decoder


def decoders() -> dict[str, Decoder]:
    """A fresh decoder per format (decoders that combine messages keep state)."""
    return {"cot": CotDecoder()}
