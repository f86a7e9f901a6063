"""``python -m mandate_rules.adapters.testing ADAPTER``: run a source system's loopback fake
from the command line, and write the settings file that points ``mandate-rules sync`` at it.

It prints ``KEY=value`` lines (a shell can ``source`` them): the fake's URL, the settings
file, and the made-up credentials the settings name, then serves until interrupted.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType, MappingProxyType

from .fake_commcare import FakeCommCare
from .fake_kobo import FakeKobo
from .fake_primero import FakePrimero
from .payloads import commcare_case, fixture, kobo_submission, primero_case
from .server import FakeServer

__all__ = ["FAKES", "main"]


def _kobo(port: int) -> FakeServer:
    # The real submissions (another form: kept as rejected) and two escort requests that map.
    return FakeKobo([*fixture("kobotoolbox", "formpack_or_other_data_submissions.json"),
                     kobo_submission(3001),
                     kobo_submission(3002, escort__alternatives="negotiation")], port=port)


def _primero(port: int) -> FakeServer:
    return FakePrimero([primero_case(1, "2026-11-20T08:00:00.000Z"),
                        primero_case(2, "2026-11-20T09:30:00.000Z")], port=port)


def _commcare(port: int) -> FakeServer:
    return FakeCommCare([fixture("commcare", "case_v2_single.json"),
                         *fixture("commcare", "case_v2_list_response.json")["cases"],
                         commcare_case(1, "2026-11-20T08:00:00.000000Z"),
                         commcare_case(2, "2026-11-20T09:30:00.000000Z", escort_requested="no")],
                        port=port)


FAKES: Mapping[str, Callable[[int], FakeServer]] = MappingProxyType({
    "kobotoolbox": _kobo, "primero": _primero, "commcare": _commcare})


def main(argv: Sequence[str] | None = None) -> int:
    """Run one fake until SIGINT or SIGTERM; the exit status is 0."""
    parser = argparse.ArgumentParser(
        prog="python -m mandate_rules.adapters.testing",
        description="Serve a loopback fake of a source system, with example records, for "
                    "`mandate-rules sync` to read.")
    parser.add_argument("adapter", choices=sorted(FAKES))
    parser.add_argument("--port", type=int, default=0,
                        help="port on 127.0.0.1 (default 0: a free one)")
    parser.add_argument("--config", type=Path, default=None,
                        help="where to write the settings file (default: a temporary folder, "
                             "removed on exit)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mandate-rules-fake-") as scratch:
        server = FAKES[args.adapter](args.port)
        try:
            config = args.config or Path(scratch) / f"{args.adapter}.yaml"
            # JSON is YAML: the settings file mandate-rules sync reads.
            config.write_text(json.dumps({"adapter": args.adapter, **server.settings()},
                                         indent=2) + "\n", encoding="utf-8")
            lines = [f"# {args.adapter} fake on loopback; stop it with Ctrl-C",
                     f"MANDATE_RULES_FAKE_URL={server.base_url}",
                     f"MANDATE_RULES_FAKE_CONFIG={config}",
                     *(f"{key}={value}" for key, value in server.env.items())]
            print("\n".join(lines), flush=True)
            stop = threading.Event()

            def on_signal(signum: int, frame: FrameType | None) -> None:
                stop.set()

            signal.signal(signal.SIGTERM, on_signal)
            signal.signal(signal.SIGINT, on_signal)
            stop.wait()
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
