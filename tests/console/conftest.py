"""Fixtures: the sidecar's real `mandate-rules serve` processes, as tests/service starts them."""

from __future__ import annotations

from ..service.conftest import start_server

__all__ = ["start_server"]
