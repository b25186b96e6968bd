"""The input formats by name."""

from __future__ import annotations

from collections.abc import Callable

from keepclear.interop.ais import AisDecoder
from keepclear.interop.asterix_in import AsterixDecoder
from keepclear.interop.cot import Chat, CotDecoder, Drawing
from keepclear.interop.gateway import Decoder
from keepclear.interop.modes import BeastDecoder, ModeSDecoder
from keepclear.interop.sbs import SbsDecoder
from keepclear.interop.takproto_in import TakProtoDecoder

#: The input formats, as endpoints name them.
FORMATS = ("cot", "tak", "sbs", "ais", "modes", "beast", "asterix")


def decoders(
    receiver: tuple[float, float] | None = None,
    on_chat: Callable[[Chat], None] | None = None,
    on_drawing: Callable[[Drawing], None] | None = None,
) -> dict[str, Decoder]:
    """A fresh decoder per format (decoders that combine messages keep state); ``receiver`` (lat, lon
    degrees) lets Mode S positions resolve from a single CPR half; ``on_chat`` hears GeoChat,
    ``on_drawing`` drawings (CoT XML and TAK protocol v1)."""
    return {
        "cot": CotDecoder(on_chat, on_drawing),
        "sbs": SbsDecoder(),
        "ais": AisDecoder(),
        "tak": TakProtoDecoder(on_chat, on_drawing),
        "modes": ModeSDecoder(receiver),
        "beast": BeastDecoder(receiver),
        "asterix": AsterixDecoder(),
    }
