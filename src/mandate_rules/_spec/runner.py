"""Running the feature files for the living documentation: pytest in a subprocess.

`run_features` runs every scenario with ``--policy-report`` to a temporary JSON file (see
`results`) and reads it back; `run_problems` says what went wrong beyond failing scenarios.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from .._errors import MandateRulesError
from .settings import INI_FEATURES, INI_RULES

__all__ = ["SpecRun", "SpecRunError", "run_features", "run_problems"]

_OUTPUT_LIMIT = 20_000
_BANNER_RE = re.compile(r"=+ (.+?) =+")
_COLLECTING_RE = re.compile(r"_+ ERROR collecting (.+?) _+")


class SpecRunError(MandateRulesError):
    """Raised by `run_features` when pytest wrote no results (it could not start, or was
    misused), so there is no page to show; the message ends with pytest's output."""


@attrs.frozen
class SpecRun:
    """One run of the feature files: the policy report, pytest's exit code and its output."""

    document: Mapping[str, Any]
    returncode: int
    output: str
    seconds: float

    @property
    def failed(self) -> list[Mapping[str, Any]]:
        return [s for s in self.document["scenarios"] if s["outcome"] == "failed"]


def run_features(*, root: Path, features: Path, rules: Path | None,
                 python: str = sys.executable) -> SpecRun:
    """Run every scenario under `features` with pytest, from `root`, and read the report.

    `rules` overrides the rules directory the plugin would choose (``rules/`` of the project
    when it holds ``bundle.yaml``, else the shipped rules, or the ini's ``mandate_rules_dir``).
    Raises `SpecRunError` when pytest wrote no report (it could not start, or was misused).
    """
    with tempfile.TemporaryDirectory(prefix="mandate-rules-spec-") as folder:
        report = Path(folder) / "policy-report.json"
        command = [python, "-m", "pytest", str(features), "-p", "no:cacheprovider",
                   "--policy-report", str(report), "--rootdir", str(root),
                   "-o", f"{INI_FEATURES}={features}", "-q", "--color=no",
                   # one refused file must not hide the others' results
                   "--continue-on-collection-errors"]
        if rules is not None:
            command += ["-o", f"{INI_RULES}={rules}"]
        started = dt.datetime.now(dt.UTC)
        completed = subprocess.run(command, cwd=root, capture_output=True, text=True,
                                   encoding="utf-8", errors="replace", check=False)
        seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
        output = completed.stdout + completed.stderr
        if not report.is_file():
            raise SpecRunError(f"pytest wrote no results (exit code {completed.returncode}):\n"
                               + output.strip())
        document = json.loads(report.read_text(encoding="utf-8"))
    return SpecRun(document=document, returncode=completed.returncode, output=output,
                   seconds=seconds)


def run_problems(run: SpecRun) -> str | None:
    """What went wrong in the run beyond failing scenarios and coverage, or None.

    Failing scenarios and missing coverage are on the page in full. Anything else that made
    the run fail: the feature files refused before they ran (from the report, each problem on
    its line), then pytest's errors section, or else the end of its output.
    """
    if run.returncode == 0:
        return None
    out: list[str] = []
    for refused in run.document.get("refused") or []:
        out.append(f"{refused['file']} was refused, so none of its scenarios ran:")
        out.extend(str(problem) for problem in refused.get("problems", []))
    inside = False
    for line in run.output.splitlines():
        banner = _BANNER_RE.fullmatch(line)
        if banner:
            inside = banner.group(1) == "ERRORS"
            continue
        if not inside:
            continue
        collecting = _COLLECTING_RE.fullmatch(line)
        if collecting:
            out.append(f"{collecting.group(1)} could not be read:")
        elif line.strip("_ "):
            out.append(line)
    if not out:
        document = run.document
        explained = bool(document["summary"]["failed"]) or bool(
            document["coverage"].get("enforced") and document["coverage"].get("missing"))
        if explained:
            return None
        out = run.output.strip().splitlines()[-40:] or [
            f"pytest ended with exit code {run.returncode}."]
    text = "\n".join(out).strip()
    return text[:_OUTPUT_LIMIT] + "\n…" if len(text) > _OUTPUT_LIMIT else text


