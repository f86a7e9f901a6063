"""The adapter SDK and the bundled adapters import without the engine: an adapter reads and
writes records, it never evaluates, so it must not pay for durable_rules' C core, the engine,
the sidecar's web framework or pytest (issue 12, point 3)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("durable", "durable_rules_engine", "mandate_rules._engine", "mandate_rules._service",
         "starlette", "pytest")

_PROBE = """
import json, sys
import {module}
print(json.dumps(sorted(n for n in {heavy!r} if n in sys.modules)))
"""


def _loaded_after_import(module: str) -> list[str]:
    # A fresh interpreter: this one has imported everything already.
    done = subprocess.run([sys.executable, "-c", _PROBE.format(module=module, heavy=HEAVY)],
                          capture_output=True, text=True, check=True, timeout=60)
    loaded: list[str] = json.loads(done.stdout)
    return loaded


@pytest.mark.parametrize("module", [
    "mandate_rules.adapters",
    "mandate_rules_adapters.kobotoolbox",
    "mandate_rules_adapters.primero",
    "mandate_rules_adapters.commcare",
])
def test_importing_loads_no_engine_sidecar_or_pytest(module: str) -> None:
    assert _loaded_after_import(module) == []


def test_the_models_alone_load_no_engine() -> None:
    assert _loaded_after_import("mandate_rules._models") == []


def test_the_engine_is_loaded_when_first_asked_for() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sys, mandate_rules; assert 'durable' not in sys.modules;"
         " mandate_rules.Engine; print('durable' in sys.modules)"],
        capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "True"
