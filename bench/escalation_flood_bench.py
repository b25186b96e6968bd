"""How many escalation messages one party's acknowledgement requests make in another party's thread.

A party posts into its standing thread with the other at the post rate (``hotline_messages_per_party_per_s``,
20 a second by default), each post asking for an acknowledgement within ``--ack-within-s``; the other
party never acknowledges and has a roster of ``--roster`` contacts. Simulated time (a manual clock, the
deadline ticker every ``--tick-s``) on a SQLite store; prints the posts accepted, the escalation
messages and the escalation messages per post and per second (over the run, and in the busiest second).

    PYTHONPATH=src python bench/escalation_flood_bench.py --roster 10 --ack-within-s 0.001 --duration-s 120

A post the service refuses (a window under the minimum, the outstanding bound) counts as refused.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from pathlib import Path

from keepclear.domain import Party
from keepclear.domain.hotline import Draft, MessageKind
from keepclear.domain.parties import Contact
from keepclear.errors import KeepclearError
from keepclear.services.hotline.service import HotlineService
from keepclear.services.runtime.bus import EventBus, ManualClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roster", type=int, default=10, help="contacts in the recipient's roster")
    parser.add_argument("--ack-within-s", type=float, default=0.001, help="the window each post asks")
    parser.add_argument("--posts-per-s", type=float, default=20.0, help="the sender's post rate")
    parser.add_argument("--duration-s", type=float, default=120.0, help="simulated seconds of posting")
    parser.add_argument("--tick-s", type=float, default=0.2, help="the deadline ticker's period")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        clock = ManualClock(1_700_000_000.0)
        dep = Deployment.open(Settings(data_dir=Path(tmp)), clock=clock, create=True)
        dep.bus = EventBus()
        try:
            hotline = HotlineService(dep.db, dep.clock, dep.bus)
            dep.registry.add_party(Party("a", "Alpha"), [Contact("Alpha duty")])
            dep.registry.add_party(Party("b", "Bravo"), [Contact(f"Bravo contact {k}") for k in range(args.roster)])
            thread_id = hotline.ensure_pair_thread("a", "b").id
            start_s = clock.now_s()
            accepted = refused = 0
            escalations: Counter[int] = Counter()  # whole simulated second → escalation messages
            post_every_s = 1.0 / args.posts_per_s
            next_post_s = 0.0
            elapsed_s = 0.0
            k = 0
            while elapsed_s < args.duration_s:
                while next_post_s <= elapsed_s:
                    draft = Draft(
                        thread_id, MessageKind.QUERY, f"flood-{k:08d}", body="?", ack_within_s=args.ack_within_s
                    )
                    k += 1
                    try:
                        hotline.post("a", "flooder", draft)
                        accepted += 1
                    except KeepclearError:
                        refused += 1
                    next_post_s += post_every_s
                elapsed_s += args.tick_s
                clock.set(start_s + elapsed_s)
                escalations[int(elapsed_s)] += len(hotline.run_deadlines())
            total = sum(escalations.values())
            print(
                f"roster {args.roster}, ack_within_s {args.ack_within_s}, {args.posts_per_s:g} posts/s for"
                f" {args.duration_s:g} s: {accepted} accepted, {refused} refused; {total} escalation messages into b's"
                f" thread: {total / max(accepted, 1):.2f} per accepted post, {total / args.duration_s:.2f}/s over"
                f" the run, {max(escalations.values(), default=0)} in the busiest second"
            )
        finally:
            dep.close()


if __name__ == "__main__":
    main()
