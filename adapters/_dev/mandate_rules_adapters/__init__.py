"""Editable installs only: the checkout's ``adapters/`` folder as ``mandate_rules_adapters``.

A wheel renames ``adapters/`` to ``mandate_rules_adapters/`` (pyproject.toml, wheel sources);
an editable install cannot rename a folder, so it puts this folder on the path and this
package answers for ``adapters/``: its submodules are looked up there, and the folder's own
``__init__.py`` runs here. The wheel leaves this folder out.
"""

from pathlib import Path as _Path

_real = _Path(__file__).resolve().parents[2]
__path__ = [str(_real)]
exec(compile((_real / "__init__.py").read_text("utf-8"), str(_real / "__init__.py"), "exec"))
