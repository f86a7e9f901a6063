"""The contract test suite any adapter, bundled or third-party, can run against itself."""

from .._adapters.testing import *  # noqa: F403
from .._adapters.testing import __all__ as __all__  # noqa: PLC0414
