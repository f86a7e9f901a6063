"""Fixtures: throw-away rule packs and engines over them."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mandate_rules import Engine

from .helpers import BUNDLE_YAML, next_id


@pytest.fixture
def write_pack(tmp_path: Path) -> Callable[..., Path]:
    """Write a throw-away rules directory: bundle.yaml plus the given packs and contexts."""

    def write(packs: dict[str, str], *, contexts: dict[str, str] | None = None,
              bundle: str = BUNDLE_YAML) -> Path:
        root = tmp_path / f"rules-{next_id()}"
        root.mkdir()
        (root / "bundle.yaml").write_text(bundle)
        for name, text in packs.items():
            (root / name).write_text(textwrap.dedent(text))
        if contexts:
            (root / "contexts").mkdir()
            for name, text in contexts.items():
                (root / "contexts" / name).write_text(textwrap.dedent(text))
        return root

    return write


@pytest.fixture
def engine_for(write_pack: Callable[..., Path]) -> Callable[..., Engine]:
    """An Engine over throw-away packs (same arguments as `write_pack`)."""

    def build(packs: dict[str, str], **kwargs: Any) -> Engine:
        return Engine.from_directory(write_pack(packs, **kwargs))

    return build
