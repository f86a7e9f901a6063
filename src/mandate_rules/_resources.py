"""The files shipped inside the package: the bundled rule packs, the event types and the demo
timeline. Reading them loads nothing else, so the spec plugin, the sidecar and the commands
find them without the engine."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path as FsPath

__all__ = ["bundled_rules_dir", "demo_timeline", "event_types_text"]


def bundled_rules_dir() -> FsPath:
    """The rule packs shipped with the package (or, in a source checkout, `rules/`)."""
    here = FsPath(__file__).resolve().parent
    packaged = here / "_bundled" / "rules"
    if packaged.is_dir():
        return packaged
    for parent in here.parents:
        candidate = parent / "rules"
        if (candidate / "bundle.yaml").is_file():
            return candidate
    raise FileNotFoundError("no bundled rule packs found: pass a rules directory")


def event_types_text() -> str:
    """``event_types.yaml``: the event types and their fields, the contract with adapters."""
    return resources.files("mandate_rules").joinpath("event_types.yaml").read_text("utf-8")


def demo_timeline() -> Traversable:
    """``demo/somalia.jsonl``: the events of the `demo` command's integrated operation."""
    return resources.files("mandate_rules").joinpath("demo", "somalia.jsonl")
