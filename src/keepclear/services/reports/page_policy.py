"""The Content-Security-Policy source expression allowing one inline block by its hash: a page
keepclear writes (the incident report's style) or serves (the console, ``/docs``) allows its own
inline block so, and nothing inline besides."""

from __future__ import annotations

import base64
import hashlib


def source_hash(text: bytes) -> str:
    """The CSP source expression allowing exactly ``text`` as an inline script or style block."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text).digest()).decode("ascii") + "'"
