"""Throughput of ``manage.py redistoken reconcile``, in sessions per second.

    .venv/bin/python -m bench.reconcile                 # 20,000 users x 5 sessions
    .venv/bin/python -m bench.reconcile --users 20 --per-user 3   # a smoke run

Starts a private redis-server on a free port (never touches another) and a
SQLite database in a temporary file; issues ``users * per-user`` sessions
with their credential fingerprints, as the login endpoint does; then changes
accounts the way no signal sees (``QuerySet.update(is_active=False)`` for a
tenth of the users, ``update(password=...)`` for another tenth, a raw SQL
``DELETE`` for a twentieth) and times, on the same store:

* dry runs (``--dry-run``: SCAN, the roster script, the user queries and the
  verdicts; nothing written), at several ``--batch-size`` values;
* the revoking run at the default batch size, then a second run with
  nothing left to revoke (the steady state of a periodic job).

It prints the counts by reason (which do not depend on the machine) and the
Redis commands each run sent, from ``INFO commandstats``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

import django  # noqa: E402
from django.conf import settings  # noqa: E402

_DB = tempfile.NamedTemporaryFile(prefix="redistoken-bench-", suffix=".sqlite3", delete=False)
settings.configure(
    SECRET_KEY="bench-" + "x" * 50,
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "rest_framework", "redistoken"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": _DB.name}},
    DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    REDISTOKEN={},
    LOGGING_CONFIG=None,
)
django.setup()

import redis  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection as db  # noqa: E402
from django.test import override_settings  # noqa: E402

from redistoken import connection, credentials, store  # noqa: E402
from redistoken.reconcile import reconcile  # noqa: E402
from tests.servers import RedisServer  # noqa: E402

DRY_RUN_BATCH_SIZES = (100, 500, 2000)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--per-user", type=int, default=5)
    return parser.parse_args()


def _commands(client: redis.Redis) -> dict[str, int]:
    return {name.removeprefix("cmdstat_"): int(row["calls"]) for name, row in client.info("commandstats").items()}


def _sent(before: dict[str, int], after: dict[str, int]) -> str:
    changed = {name: after[name] - before.get(name, 0) for name in after if after[name] != before.get(name, 0)}
    changed.pop("info", None)
    return ", ".join(f"{name} {count}" for name, count in sorted(changed.items()))


def seed(users: int, per_user: int) -> tuple[int, float]:
    """``users`` accounts with ``per_user`` sessions each; (sessions, seconds)."""
    model = get_user_model()
    password = make_password("bench-password")
    model.objects.bulk_create([model(username=f"user{n}", password=password) for n in range(users)], batch_size=1000)
    started = time.perf_counter()
    for user in model.objects.only("id", "password", "is_active").iterator(chunk_size=2000):
        fingerprint = credentials.fingerprint(user)
        for i in range(per_user):
            store.issue_token(user, device=f"device {i}", ip="203.0.113.7", credential=fingerprint)
    return users * per_user, time.perf_counter() - started


def change_accounts(users: int) -> dict[str, int]:
    """Account changes that send no signal; the users changed, by the reason reconcile gives."""
    model = get_user_model()
    ids = list(model.objects.order_by("id").values_list("id", flat=True))
    inactive, changed, deleted = ids[0::10], ids[1::10], ids[2::20]
    model.objects.filter(id__in=inactive).update(is_active=False)
    model.objects.filter(id__in=changed).update(password=make_password("changed elsewhere"))
    with db.cursor() as cursor:
        for start in range(0, len(deleted), 500):
            chunk = deleted[start : start + 500]
            cursor.execute(
                f"DELETE FROM {model._meta.db_table} WHERE id IN ({', '.join(['%s'] * len(chunk))})", chunk
            )
    return {"deleted": len(deleted), "deactivated": len(inactive), "credential-changed": len(changed)}


def timed(client: redis.Redis, **options: Any) -> tuple[dict[str, Any], float, str]:
    before = _commands(client)
    started = time.perf_counter()
    report = reconcile(**options)
    elapsed = time.perf_counter() - started
    return report.as_dict(), elapsed, _sent(before, _commands(client))


def main() -> None:
    args = _arguments()
    server = RedisServer().start()
    client = server.client()
    try:
        with override_settings(REDISTOKEN={"REDIS_URL": server.url, "KEY_PREFIX": "rtb:", "SOCKET_TIMEOUT": 10}):
            call_command("migrate", verbosity=0)
            version = client.info("server")["redis_version"]
            print(
                f"Python {sys.version.split()[0]}, Django {django.get_version()}, {os.cpu_count()} CPUs, "
                f"Redis {version} (private server on 127.0.0.1), SQLite {db.Database.sqlite_version}"
            )
            sessions, seconds = seed(args.users, args.per_user)
            print(f"seeded {sessions} sessions of {args.users} users in {seconds:.1f} s ({sessions / seconds:,.0f}/s)")
            users_changed = change_accounts(args.users)
            expected = {reason: count * args.per_user for reason, count in users_changed.items()}
            print(f"changed without signals (users): {users_changed}; sessions to end: {sum(expected.values())}")
            print("\n| run | batch size | sessions | users | would revoke / revoked | seconds | sessions/s |")
            print("|---|---|---|---|---|---|---|")
            for batch_size in DRY_RUN_BATCH_SIZES:
                data, elapsed, sent = timed(client, batch_size=batch_size, dry_run=True)
                assert data["by_reason"] == expected, (data, expected)
                _row("dry run", batch_size, data, elapsed)
                dry_sent = sent
            data, elapsed, revoke_sent = timed(client, batch_size=500)
            assert data["by_reason"] == expected, (data, expected)
            _row("revoking", 500, data, elapsed)
            data, elapsed, steady_sent = timed(client, batch_size=500)
            assert data["revoked"] == 0 and data["sessions"] == sessions - sum(expected.values())
            _row("nothing left to revoke", 500, data, elapsed)
            print(f"\nrevoked by reason: {expected}")
            print(f"Redis commands, dry run at batch size {DRY_RUN_BATCH_SIZES[-1]}: {dry_sent}")
            print(f"Redis commands, revoking run at batch size 500: {revoke_sent}")
            print(f"Redis commands, nothing left to revoke at batch size 500: {steady_sent}")
            left = sum(1 for _ in client.scan_iter("rtb:{*}", count=1000) if b"throttle" not in _)
            print(f"user hashes left: {left}")
    finally:
        connection.reset_client()
        client.close()
        server.cleanup()
        os.unlink(_DB.name)


def _row(name: str, batch_size: int, data: dict[str, Any], elapsed: float) -> None:
    print(
        f"| {name} | {batch_size} | {data['sessions']} | {data['users']} | {data['revoked']} | "
        f"{elapsed:.2f} | {data['sessions'] / elapsed:,.0f} |"
    )


if __name__ == "__main__":
    main()
