"""Where the policy specs live and which rules they run against, and the rules, loaded once.

* ``mandate_rules_features`` (ini, default ``features``): the folder of feature files, relative
  to the rootdir. Only ``.feature`` files inside it are collected.
* ``mandate_rules_dir`` (ini): the rules directory, relative to the rootdir. Default:
  ``rules/`` under the rootdir when it holds a ``bundle.yaml``, else the rules shipped with
  mandate-rules.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from pathlib import Path

import pytest

from .._loader import load_bundle
from .._resources import bundled_rules_dir
from .._rules import Bundle

__all__ = ["INI_FEATURES", "INI_RULES", "features_dir", "load_rules", "relative", "rules_dir"]

INI_RULES = "mandate_rules_dir"
INI_FEATURES = "mandate_rules_features"

_CACHE: OrderedDict[str, Bundle] = OrderedDict()
_CACHE_SIZE = 8


def rules_dir(config: pytest.Config) -> Path:
    value = str(config.getini(INI_RULES) or "").strip()
    if value:
        return (config.rootpath / value).resolve()
    candidate = config.rootpath / "rules"
    if (candidate / "bundle.yaml").is_file():
        return candidate.resolve()
    return bundled_rules_dir()


def features_dir(config: pytest.Config) -> Path:
    value = str(config.getini(INI_FEATURES) or "features").strip() or "features"
    return (config.rootpath / value).resolve()


def relative(path: Path, root: Path) -> str:
    """`path` relative to `root` when inside it, as written in messages (posix)."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def load_rules(path: Path) -> Bundle:
    """The bundle in `path`, loaded once per content (load_bundle takes ~0.5 s).

    Keyed by a digest of every file under `path`, so a changed file is read again and two
    copies of the same rules share one load. Raises `RulePackError` like `load_bundle`.
    """
    digest = _digest(path)
    found = _CACHE.get(digest)
    if found is not None:
        _CACHE.move_to_end(digest)
        return found
    bundle = load_bundle(path)
    _CACHE[digest] = bundle
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return bundle


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        sha.update(file.relative_to(path).as_posix().encode() + b"\0")
        sha.update(file.read_bytes() + b"\0")
    return sha.hexdigest()
