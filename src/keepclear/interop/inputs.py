"""The input formats by name."""

from __future__ import annotations

from keepclear.interop.ais import AisDecoder
from keepclear.interop.cot import CotDecoder
from keepclear.interop.gateway import Decoder
from keepclear.interop.sbs import SbsDecoder
from keepclear.interop.takproto_in import TakProtoDecoder


def decoders() -> dict[str, Decoder]:
    """A fresh decoder per format (decoders that combine messages keep state)."""
    return {"cot": CotDecoder(), "sbs": SbsDecoder(), "ais": AisDecoder(), "tak": TakProtoDecoder()}
