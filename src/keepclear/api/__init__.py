"""The HTTP service: versioned REST under /v1, server-sent events, the hotline WebSocket."""

from keepclear.api.app import create_app

__all__ = ["create_app"]
