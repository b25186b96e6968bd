"""The operations console: a static web app served by keepclear itself, using the public API only."""

from keepclear.console.router import console_router

__all__ = ["console_router"]
