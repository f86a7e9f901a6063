"""Primero v2: webhooks, the ``last_updated_at`` pull, flag or note write-back."""

from .adapter import PrimeroAdapter

__all__ = ["PrimeroAdapter"]
