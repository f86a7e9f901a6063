"""Reading an adapter's deployment settings: plain values, durations, and credentials that
live in environment variables (never in the file, never in a log)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._problems import Problem
from .._yamlsrc import plain, read_yaml
from .errors import AdapterConfigError

__all__ = ["Settings", "load_settings"]


def load_settings(path: Path) -> Settings:
    """The settings in a YAML (or JSON) file; relative paths in it resolve against its folder."""
    problems: list[Problem] = []
    document = read_yaml(path, str(path), problems)
    if problems:
        raise AdapterConfigError(str(problems[0]))
    if not isinstance(document, Mapping):
        raise AdapterConfigError(f"{path}: expected a mapping of settings")
    return Settings(plain(document), where=str(path), base_dir=path.resolve().parent)


class Settings:
    """Typed access to one adapter's settings; every error names the file and the key."""

    def __init__(self, values: Mapping[str, Any], *, where: str = "<settings>",
                 base_dir: Path | None = None) -> None:
        self.values = dict(values)
        self.where = where
        self.base_dir = base_dir or Path.cwd()

    def _fail(self, key: str, message: str) -> AdapterConfigError:
        return AdapterConfigError(f"{self.where}: {key}: {message}")

    def text(self, key: str, default: str | None = None) -> str:
        value = self.values.get(key, default)
        if not isinstance(value, str) or not value:
            raise self._fail(key, f"expected a non-empty text, got {value!r}")
        return value

    def optional_text(self, key: str) -> str | None:
        return self.text(key) if self.values.get(key) is not None else None

    def number(self, key: str, default: float) -> float:
        value = self.values.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise self._fail(key, f"expected a non-negative number, got {value!r}")
        return float(value)

    def integer(self, key: str, default: int, *, low: int = 1, high: int | None = None) -> int:
        value = self.values.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (
                high is not None and value > high):
            span = f"{low}..{high}" if high is not None else f">= {low}"
            raise self._fail(key, f"expected a whole number {span}, got {value!r}")
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.values.get(key, default)
        if not isinstance(value, bool):
            raise self._fail(key, f"expected true or false, got {value!r}")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.values.get(key, default)
        if value not in choices:
            raise self._fail(key, f"expected one of {', '.join(choices)}, got {value!r}")
        return str(value)

    def section(self, key: str) -> Settings:
        value = self.values.get(key) or {}
        if not isinstance(value, Mapping):
            raise self._fail(key, "expected a mapping")
        return Settings(value, where=f"{self.where}: {key}", base_dir=self.base_dir)

    def path(self, key: str) -> Path | None:
        value = self.optional_text(key)
        if value is None:
            return None
        candidate = Path(value)
        return candidate if candidate.is_absolute() else self.base_dir / candidate

    def secret(self, key: str, env: Mapping[str, str], *, required: bool = True) -> str | None:
        """The credential in the environment variable named by setting `key`.

        The message on failure names the variable, never a value.
        """
        variable = self.values.get(key)
        if variable is None and not required:
            return None
        if not isinstance(variable, str) or not variable:
            raise self._fail(key, "expected the name of an environment variable that holds "
                                  "the credential")
        value = env.get(variable)
        if not value:
            raise self._fail(key, f"the environment variable {variable} is not set")
        return value
