"""The adapters' layout (issue 12): the adapter SDK and the bundled adapters import without
the engine (an adapter reads and writes records, it never evaluates, so it must not pay for
durable_rules' C core, the engine, the sidecar's web framework or pytest), the machinery
below the commands never reaches up to them, and each module does one job in under 500
lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import mandate_rules
from mandate_rules import adapters

from ..helpers import imported_modules

HEAVY = ("durable", "durable_rules_engine", "mandate_rules._engine", "mandate_rules._service",
         "starlette", "pytest")

BUNDLED = Path(__file__).resolve().parents[2] / "adapters"

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


def test_no_adapter_module_imports_the_engine_or_the_sidecar() -> None:
    """The engine evaluates what an adapter hands over, in the commands (`_sync_cli`) and the
    sidecar; the adapter machinery below them never reaches up to it (issue 12, point 2)."""
    src = Path(mandate_rules.__file__).parent
    paths = [*sorted((src / "_adapters").rglob("*.py")), *sorted((src / "adapters").rglob("*.py")),
             *sorted(BUNDLED.rglob("*.py"))]
    offenders = []
    for path in paths:
        for module in imported_modules(path):
            if module.split(".")[-1] in ("_engine", "_service", "_cli", "_sync_cli") or \
                    module.startswith(("mandate_rules._engine", "mandate_rules._service")):
                offenders.append(f"{path.relative_to(src.parent)}: {module}")
    assert offenders == []


def test_no_adapter_module_is_over_500_lines() -> None:
    src = Path(mandate_rules.__file__).parent
    paths = [*(src / "_adapters").rglob("*.py"), *(src / "adapters").rglob("*.py"),
             *BUNDLED.rglob("*.py")]
    sizes = {str(p): len(p.read_text("utf-8").splitlines()) for p in paths}
    assert {p: n for p, n in sizes.items() if n > 500} == {}


def test_every_adapter_exception_is_a_mandate_rules_error() -> None:
    raised = [v for v in vars(adapters).values()
              if isinstance(v, type) and issubclass(v, BaseException)]
    assert len(raised) >= 10
    assert [e.__name__ for e in raised if not issubclass(e, mandate_rules.MandateRulesError)] == []
    # The HTTP client's own refusal of an address is one too (it was a ValueError).
    with pytest.raises(adapters.AdapterConfigError, match="expected an http"):
        adapters.HttpClient("ftp://example.org/")
