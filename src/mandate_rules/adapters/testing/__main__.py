"""``python -m mandate_rules.adapters.testing ADAPTER [--port N] [--config FILE]``."""

import sys

from ..._adapters.testing.serve import main

sys.exit(main())
