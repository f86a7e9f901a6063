"""CommCare HQ: data forwarding, the Case API v2 cursor pull, advisory-case write-back."""

from .adapter import CommCareAdapter

__all__ = ["CommCareAdapter"]
