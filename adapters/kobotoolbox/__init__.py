"""KoboToolbox (KPI v2): REST Services push, data API pull, validation-status write-back."""

from .adapter import KoboAdapter

__all__ = ["KoboAdapter"]
