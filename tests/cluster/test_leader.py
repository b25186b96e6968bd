"""One active instance per role on the real PostgreSQL: a standby takes over when the leader dies.

Drills: the leader's session is terminated by the server (a dropped connection), and the leader's
process is killed with ``kill -9``; each time the standby's loop must be leader within
``TAKEOVER_S``. The measured takeover is printed.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import psycopg
import pytest
import sqlalchemy as sa

from keepclear.services.runtime.leader import (
    EmbeddedLeadership,
    LeaderLoop,
    LockSession,
    PostgresLeadership,
    Role,
    leadership_for,
    lock_key,
)

#: A standby polling every ``POLL_S`` must lead within this after the leader's session ends.
POLL_S = 0.1
TAKEOVER_S = 3.0


@pytest.fixture
def namespace() -> str:
    """A namespace per test, so parallel test runs on one server never share a lock."""
    return f"test-{uuid.uuid4().hex[:8]}"


def libpq(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def wait_for(flag: threading.Event, timeout_s: float) -> float:
    t0 = time.monotonic()
    assert flag.wait(timeout_s), f"not within {timeout_s} s"
    return time.monotonic() - t0


def test_embedded_is_always_the_leader() -> None:
    lead = EmbeddedLeadership()
    assert lead.try_acquire() and lead.still_held()


def test_keys_differ_by_role_and_namespace_and_are_stable() -> None:
    keys = {lock_key(r, ns) for r in Role for ns in ("a", "b")}
    assert len(keys) == 2 * len(Role) and all(-(2**63) <= k < 2**63 for k in keys)
    assert lock_key(Role.SIGNER, "a") == lock_key("signer", "a")


def test_a_sqlite_url_is_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="url"):
        PostgresLeadership("sqlite:///x.db", Role.SIGNER)
    with pytest.raises(ValueError, match="keepalive_s"):
        PostgresLeadership("postgresql+psycopg://h/db", Role.SIGNER, keepalive_s=0)


def test_the_store_picks_the_leadership(postgres_url: str) -> None:
    assert isinstance(leadership_for("sqlite:///x.db", Role.SIGNER), EmbeddedLeadership)
    assert isinstance(leadership_for(postgres_url, Role.SIGNER), PostgresLeadership)


def test_one_holder_per_role_and_roles_are_independent(postgres_url: str, namespace: str) -> None:
    first = PostgresLeadership(postgres_url, Role.SIGNER, namespace)
    second = PostgresLeadership(postgres_url, Role.SIGNER, namespace)
    other_role = PostgresLeadership(postgres_url, Role.HOTLINE_DEADLINES, namespace)
    try:
        assert first.try_acquire()
        assert not second.try_acquire()
        assert other_role.try_acquire()
        first.release()
        assert second.try_acquire() and second.still_held()
        assert not first.still_held()
    finally:
        for holder in (first, second, other_role):
            holder.release()


@pytest.mark.parametrize("role", ["detect-home:w0of2", "detect-home:w1of2", "x" * 40])
def test_whether_anyone_holds_a_role_is_seen_without_taking_it(postgres_url: str, namespace: str, role: str) -> None:
    """A worker asks whether another worker's lock is held (pg_locks) without taking it: both halves of
    the 64-bit key are matched, whatever their signs, and the lock stays free for its owner."""
    watcher = PostgresLeadership(postgres_url, "watcher", namespace)
    owner = PostgresLeadership(postgres_url, role, namespace)
    same_role_elsewhere = PostgresLeadership(postgres_url, role, f"{namespace}-other")
    try:
        assert watcher.try_acquire()
        assert not watcher.held_by_anyone(role)
        assert same_role_elsewhere.try_acquire()  # another namespace: another key
        assert not watcher.held_by_anyone(role)
        assert owner.try_acquire()
        assert watcher.held_by_anyone(role) and owner.held_by_anyone(role)
        owner.release()
        assert not watcher.held_by_anyone(role)
        assert owner.try_acquire(), "asking must not have taken it"
    finally:
        for holder in (watcher, owner, same_role_elsewhere):
            holder.release()


def test_standby_takes_over_when_the_leaders_session_is_terminated(postgres_url: str, namespace: str) -> None:
    first = PostgresLeadership(postgres_url, Role.SIGNER, namespace)
    events: dict[str, threading.Event] = {k: threading.Event() for k in ("a_elected", "a_lost", "b_elected")}
    loop_a = LeaderLoop(first, events["a_elected"].set, events["a_lost"].set, POLL_S)
    loop_a.start()
    wait_for(events["a_elected"], TAKEOVER_S)
    loop_b = LeaderLoop(
        PostgresLeadership(postgres_url, Role.SIGNER, namespace), events["b_elected"].set, lambda: None, POLL_S
    )
    loop_b.start()
    try:
        time.sleep(3 * POLL_S)
        assert loop_a.leading and not loop_b.leading
        pid = first.backend_pid
        assert pid is not None
        with psycopg.connect(libpq(postgres_url), autocommit=True) as admin:
            assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
        takeover_s = wait_for(events["b_elected"], TAKEOVER_S)
        lost_s = wait_for(events["a_lost"], TAKEOVER_S)
        print(json.dumps({"drill": "session terminated", "takeover_s": round(takeover_s, 3)}))
        assert loop_b.leading and not loop_a.leading and lost_s < TAKEOVER_S
    finally:
        loop_a.stop()
        loop_b.stop()


def test_one_session_holds_many_locks_and_loses_them_all_with_it(postgres_url: str, namespace: str) -> None:
    """A detector worker's home and share locks on one connection: each taken or given up alone,
    all lost at once when the session ends, and then free for another session."""
    mine = LockSession(postgres_url, namespace, application_name="keepclear-test-worker")
    other = LockSession(postgres_url, namespace)
    locks = [mine.lock(f"detect-share:s{i}") for i in range(5)]
    rivals = [other.lock(f"detect-share:s{i}") for i in range(5)]
    try:
        assert all(lock.try_acquire() for lock in locks)
        assert {lock.session.backend_pid for lock in locks} == {mine.backend_pid}  # one connection
        assert not any(rival.try_acquire() for rival in rivals)
        assert other.held_by_anyone("detect-share:s3") and not other.held_by_anyone("detect-share:s9")
        locks[3].release()  # one given back (a share handed back): the others stay
        assert rivals[3].try_acquire() and all(lock.still_held() for i, lock in enumerate(locks) if i != 3)
        assert not locks[3].held and not locks[3].still_held()
        pid = mine.backend_pid
        with psycopg.connect(libpq(postgres_url), autocommit=True) as admin:
            assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
        assert not locks[0].still_held()  # the first check finds the session gone...
        assert not any(lock.held for lock in locks)  # ...and every lock of it reads as lost
        assert all(rival.try_acquire() for rival in rivals)
        assert not locks[1].try_acquire()  # a new session of the worker's: taken by the other now
        assert mine.backend_pid not in (None, pid)
    finally:
        mine.drop()
        other.drop()


HOLDER = textwrap.dedent(
    """
    import sys, time
    from keepclear.services.runtime.leader import PostgresLeadership, Role
    lead = PostgresLeadership(sys.argv[1], Role.SIGNER, sys.argv[2])
    assert lead.try_acquire()
    print("held", flush=True)
    time.sleep(60)
    """
)


def test_standby_takes_over_within_bounds_after_kill_9_of_the_leader(postgres_url: str, namespace: str) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, postgres_url, namespace], stdout=subprocess.PIPE, text=True
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            elected = threading.Event()
            standby = LeaderLoop(
                PostgresLeadership(postgres_url, Role.SIGNER, namespace), elected.set, lambda: None, POLL_S
            )
            standby.start()
            try:
                time.sleep(3 * POLL_S)
                assert not standby.leading
                holder.send_signal(signal.SIGKILL)
                takeover_s = wait_for(elected, TAKEOVER_S)
                print(json.dumps({"drill": "kill -9", "takeover_s": round(takeover_s, 3)}))
                assert standby.leading
            finally:
                standby.stop()
        finally:
            holder.kill()
