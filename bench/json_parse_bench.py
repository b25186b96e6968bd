"""What reading JSON strictly costs: ``domain.json_input.parse_json`` against a plain ``json.loads``.

The strict reader refuses what the plain one lets through (NaN, integers past 64 bits, lone
surrogates, deep nesting, a key given twice in one object); the last needs a Python hook per object,
so the cost grows with the number of objects. Measured on the same document, side by side, minimum
of ``--repeat``: an activity batch of ``--activities`` small objects (the shape of a large
``POST /v1/activities/batch``) and one hotline message. Prints a table and the ratio to the plain read.

    python bench/json_parse_bench.py --activities 30000
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from keepclear.domain.json_input import parse_json
from keepclear.domain.limits import InputLimits


def activity_batch(count: int) -> bytes:
    """``count`` activities of a route's size (nested objects: volume, circle, times)."""
    activities = [
        {
            "id": f"a{i}",
            "kind": "air-operation",
            "volumes": [{"circle": {"center": [40.0 + i * 1e-6, 35.0], "radius_m": 1000}, "lower_ft": 0}],
            "start": "2027-01-01T00:00:00Z",
            "end": "2027-01-01T01:00:00Z",
            "text": "x" * 50,
        }
        for i in range(count)
    ]
    return json.dumps({"activities": activities}).encode()


def fastest_s(read: Callable[[], Any], repeat: int) -> float:
    best_s = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        read()
        best_s = min(best_s, time.perf_counter() - t0)
    return best_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activities", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    limits = InputLimits(max_batch_body_bytes=1 << 30)
    documents = {
        f"activity batch of {args.activities}": activity_batch(args.activities),
        "one hotline message": json.dumps({"idempotency_key": "k-1", "body": "x" * 200, "data": {"a": 1}}).encode(),
    }
    print("| document | bytes | json.loads ms | parse_json ms | ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, data in documents.items():
        repeat = args.repeat if len(data) > 100_000 else 1000 * args.repeat
        plain_s = fastest_s(lambda data=data: json.loads(data), repeat)
        strict_s = fastest_s(lambda data=data: parse_json(data, limits), repeat)
        print(f"| {name} | {len(data):,} | {plain_s * 1e3:.3f} | {strict_s * 1e3:.3f} | {strict_s / plain_s:.2f}× |")


if __name__ == "__main__":
    main()
