"""Schemathesis hooks (loaded by `st run` through SCHEMATHESIS_HOOKS in test_openapi.py):
two bodies in three carry content no store or engine can take, so the fuzz run proves it
is refused with a 4xx, never a 5xx: a text ending in a lone surrogate (sent as the JSON
escape ``\\ud800``) and an integer beyond a double's range."""

from __future__ import annotations

import json
import zlib
from typing import Any

import schemathesis

LONE_SURROGATE = "\ud800"
BEYOND_A_DOUBLE = 10**400


def hostile(body: Any) -> Any:
    """`body` with its first text given a lone surrogate, or its first number (or a new
    member) made an integer beyond a double; chosen by the body's own content, so a run
    with a fixed seed sends the same bodies."""
    if not isinstance(body, (dict, list)):
        return body
    choice = zlib.crc32(json.dumps(body, sort_keys=True, default=str).encode()) % 3
    if choice == 0:
        return body
    done = [False]

    def walk(value: Any) -> Any:
        if done[0]:
            return value
        if choice == 1 and isinstance(value, str):
            done[0] = True
            return value + LONE_SURROGATE
        if choice == 2 and isinstance(value, (int, float)) and not isinstance(value, bool):
            done[0] = True
            return BEYOND_A_DOUBLE
        if isinstance(value, dict):
            return {key: walk(item) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value

    mutated = walk(body)
    if not done[0] and isinstance(mutated, dict):
        mutated["hostile"] = LONE_SURROGATE if choice == 1 else BEYOND_A_DOUBLE
    return mutated


@schemathesis.hook
def map_body(context: Any, body: Any) -> Any:
    return hostile(body)
