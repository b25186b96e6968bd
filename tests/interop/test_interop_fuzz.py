"""Whatever bytes arrive, every decoder either reads them or refuses them with a ValueError."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keepclear.interop.inputs import decoders

SEEDS = {
    "cot": b'<event uid="U" type="a-f-G" time="2026-01-01T00:00:00Z"><point lat="1" lon="2"/></event>',
    "tak": b"\xbf\x01\xbf\x12\x06\n\x04a-f-",
    "sbs": b"MSG,3,1,1,3C6444,1,2026/12/03,09:00:00.000,2026/12/03,09:00:00.000,,30000,,,51.5,-0.1,,,0,0,0,0",
    "ais": b"!AIVDM,1,1,,B,15NG6V0P01G?cFhE`R2IU?wn28R>,0*05",
    "asterix": bytes.fromhex("150014c31019010100124fa4fafff6e5d53c6444"),
    "modes": b"*8D40621D58C382D690C8AC2863A7;",
    "beast": b"\x1a3\x00\x00\x00\x00\x00\x00\x80\x8d\x40\x62\x1d\x58\xc3\x82\xd6\x90\xc8\xac\x28\x63\xa7",
}


@pytest.mark.parametrize("fmt", sorted(SEEDS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, 200), noise=st.binary(max_size=40), position=st.integers(0, 200))
def test_mangled_messages_decode_or_raise_value_error(fmt: str, cut: int, noise: bytes, position: int) -> None:
    seed = SEEDS[fmt]
    mangled = seed[: position % (len(seed) + 1)] + noise + seed[cut % (len(seed) + 1) :]
    decoder = decoders()[fmt]
    buffer = bytearray(mangled + (b"\n" if fmt in ("sbs", "ais", "modes") else b""))
    for message in decoder.split(buffer):
        try:
            found = decoder.decode(message, 1.0)
        except ValueError:
            continue
        assert isinstance(found, list)
