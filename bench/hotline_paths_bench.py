"""CPU a hotline message costs in the parts of one API process that each party's stream and socket
add: its ``message.posted`` event shown on the SSE streams (``StreamHub.on_events``, no client
connected), the event's id (the bus and the notices ask for it) and the message's view for each of two
sockets (``message_view``, an English and a Russian reader). In-process and single-threaded, so a
difference of a few microseconds shows through a loaded machine, which ``hotline_bench.py`` (the whole
server, whose CPU a message varies by a tenth from run to run) cannot tell.

``--baseline-src DIR`` measures another source tree too (``git archive main src | tar -x -C /tmp/old``)
and prints both side by side; each tree runs in its own process, in turns, ``--rounds`` times.

    python bench/hotline_paths_bench.py --baseline-src /tmp/old/src
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

#: Messages a commit holds in the measure: the socket commits what arrived together, and a commit's
#: messages share one time (``Posting.append_batch``).
COMMIT_MESSAGES = 10


def measure(messages: int) -> float:
    """CPU microseconds a message, the least of three passes over ``messages`` messages."""
    from keepclear.api.streams import StreamHub
    from keepclear.domain.event_kinds import EventKind
    from keepclear.domain.events import Event
    from keepclear.domain.hotline import Message, MessageKind
    from keepclear.services.hotline.messages import message_view
    from keepclear.services.hotline.posting import posted_payload

    parties = frozenset({"coalition", "russia"})
    catalogue: dict[str, object] = {}  # no phrases: message_view does not look in it
    best_s = float("inf")
    for _ in range(3):
        hub = StreamHub()
        start_s = time.process_time()
        for first in range(0, messages, COMMIT_MESSAGES):
            now_s = 1_765_000_000.0 + first / 1000 + 0.0005
            batch = [
                Message(
                    thread_id="thr-bench",
                    seq=seq,
                    kind=MessageKind.TEXT,
                    sender_party="coalition",
                    sender_person="duty officer",
                    time_s=now_s,
                    idempotency_key=f"bench-{seq:08d}",
                    body=f"message {seq}: request your unit VIPER{seq % 90 + 10} alter course to 090",
                    phrase=None,
                    reply_to_seq=None,
                    ack_deadline_s=None,
                    data={},
                )
                for seq in range(first + 1, first + COMMIT_MESSAGES + 1)
            ]
            for message in batch:  # the two sockets' frames
                message_view(message, catalogue, "en")  # type: ignore[arg-type]
                message_view(message, catalogue, "ru")  # type: ignore[arg-type]
            events = [
                Event(EventKind.MESSAGE_POSTED, m.time_s, m.sender_party, posted_payload(m), parties) for m in batch
            ]
            hub.on_events(events)
            for event in events:
                _ = event.id
        best_s = min(best_s, time.process_time() - start_s)
    return best_s / messages * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline-src", metavar="DIR", help="measure this source tree too, side by side")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.messages)))
        return 0
    trees = [("new", str(Path(__file__).resolve().parent.parent / "src"))]
    if args.baseline_src:
        trees.insert(0, ("old", args.baseline_src))
    found: dict[str, list[float]] = {name: [] for name, _ in trees}
    for _ in range(args.rounds):
        for name, src in trees:
            out = subprocess.run(
                [sys.executable, __file__, "--one", "--messages", str(args.messages)],
                env={**os.environ, "PYTHONPATH": src},
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            found[name].append(json.loads(out))
    print(f"CPU-µs a message: streams' event, its id, two sockets' views ({args.messages} messages, least of 3 passes)")
    for name, values in found.items():
        print(f"{name:4} {min(values):7.1f} µs   each round: {' '.join(f'{v:.1f}' for v in values)}")
    if args.baseline_src:
        old, new = min(found["old"]), min(found["new"])
        print(f"saved {old - new:.1f} µs a message ({(new / old - 1) * 100:+.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
