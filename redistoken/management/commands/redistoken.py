"""``manage.py redistoken``: sessions, revocation, statistics, DRF import.

    redistoken sessions USERNAME      one user's live sessions
    redistoken revoke USERNAME        end all of that user's sessions
    redistoken revoke --all           end every session of every user (incidents)
    redistoken stats                  live sessions, users, memory used
    redistoken import-drf-tokens      copy rest_framework.authtoken keys into the store
    redistoken reconcile              end sessions of deleted, inactive or changed accounts

Every subcommand takes ``--json`` for scripts. Work over the whole store goes
in SCAN batches (``--batch-size``) with a progress bar on stderr.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ... import reconcile, store


class ProgressBar:
    """``done/total`` on stderr: redrawn in place on a terminal, otherwise a
    line every few seconds (logs stay readable). ``total`` may be an upper bound."""

    def __init__(self, stream: TextIO, label: str, total: int, enabled: bool = True) -> None:
        self.stream, self.label, self.total, self.enabled = stream, label, total, enabled
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.last_line = 0.0
        self.done = 0

    def __call__(self, done: int) -> None:
        self.done = done
        if not self.enabled:
            return
        now = time.monotonic()
        if not self.tty and now - self.last_line < 2:
            return
        self.last_line = now
        fraction = min(done / self.total, 1.0) if self.total else 1.0
        bar = "#" * int(fraction * 30)
        line = f"{self.label} [{bar:<30}] {done}/{self.total}"
        self.stream.write(("\r" + line) if self.tty else line + "\n")
        self.stream.flush()

    def finish(self) -> None:
        """The final count, as a full bar (``total`` was only an estimate)."""
        if self.enabled:
            self.total, self.last_line = self.done, 0.0
            self(self.done)
            if self.tty:
                self.stream.write("\n")


class Command(BaseCommand):
    help = "Inspect and revoke redistoken sessions, show store statistics, import DRF tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)

        sessions = sub.add_parser("sessions", help="List a user's live sessions.")
        sessions.add_argument("username")

        revoke = sub.add_parser("revoke", help="End all sessions of a user, or of everyone with --all.")
        target = revoke.add_mutually_exclusive_group(required=True)
        target.add_argument("username", nargs="?")
        target.add_argument("--all", action="store_true", help="Every session of every user.")
        revoke.add_argument(
            "--noinput", "--no-input", action="store_false", dest="interactive", help="Do not ask to confirm --all."
        )

        sub.add_parser("stats", help="Live sessions, users with sessions, memory used by the store.")
        sub.add_parser("import-drf-tokens", help="Copy rest_framework.authtoken keys into the store (idempotent).")
        check = sub.add_parser(
            "reconcile", help="End every session whose user is gone, inactive, or changed its password since."
        )
        check.add_argument("--dry-run", action="store_true", help="Count what would be revoked; revoke nothing.")

        for command in sub.choices.values():
            command.add_argument("--json", action="store_true", help="Machine-readable output.")
            command.add_argument("--batch-size", type=int, default=500, help="Keys or rows per batch.")
            command.add_argument("--no-progress", action="store_false", dest="progress", help="No progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be positive.")
        handler = getattr(self, "do_" + options["subcommand"].replace("-", "_"))
        try:
            handler(options)
        except store.StoreUnavailable as exc:
            raise CommandError(
                f"Redis cannot answer ({exc}). Safe to run again: revoke, import and reconcile resume."
            ) from exc

    # -- helpers ---------------------------------------------------------

    def output(self, options: dict[str, Any], data: Any, text: str) -> None:
        self.stdout.write(json.dumps(data, indent=2, default=str) if options["json"] else text)

    def bar(self, options: dict[str, Any], label: str, total: int) -> ProgressBar:
        stream: Any = getattr(self.stderr, "_out", self.stderr)  # the raw stream: the bar needs "\r", no endings
        return ProgressBar(stream, label, total, enabled=options["progress"])

    def user(self, username: str) -> Any:
        model = get_user_model()
        try:
            return model._default_manager.get(**{str(model.USERNAME_FIELD): username})
        except model.DoesNotExist as exc:
            raise CommandError(f"No user {username!r}.") from exc

    # -- subcommands -----------------------------------------------------

    def do_sessions(self, options: dict[str, Any]) -> None:
        user = self.user(options["username"])
        sessions = store.list_sessions(user)
        rows = [
            {
                "id": s.id,
                "device": s.device,
                "device_label": s.device_label,
                "ip": s.ip,
                "user_agent": s.user_agent,
                "created": s.created.isoformat(),
                "last_used": s.last_used.isoformat(),
                "expires_at": s.expires_at.isoformat(),
            }
            for s in sessions
        ]
        lines = [f"{len(rows)} live session(s) of {user.get_username()!r}, most recently used first."]
        for row in rows:
            lines.append(
                f"{row['id']}  device={row['device'] or '-'}  label={row['device_label'] or '-'}  "
                f"ip={row['ip'] or '-'}  "
                f"created={row['created']}  last used={row['last_used']}  expires={row['expires_at']}  "
                f"agent={row['user_agent'] or '-'}"
            )
        self.output(options, {"user": user.get_username(), "user_id": str(user.pk), "sessions": rows}, "\n".join(lines))

    def do_revoke(self, options: dict[str, Any]) -> None:
        if not options["all"]:
            user = self.user(options["username"])
            revoked = store.revoke_all(user, reason=store.Reason.ADMIN)
            text = f"Revoked {len(revoked)} session(s) of {user.get_username()!r}."
            self.output(options, {"user": user.get_username(), "revoked": len(revoked)}, text)
            return
        if options["interactive"] and sys.stdin.isatty():
            answer = input("End every session of every user? Everyone must log in again. Type 'yes': ")
            if answer.strip() != "yes":
                raise CommandError("Cancelled; nothing was revoked.")
        bar = self.bar(options, "revoking", store.size_hint())
        count = store.revoke_everything(reason=store.Reason.ADMIN, batch_size=options["batch_size"], progress=bar)
        bar.finish()
        self.output(options, {"revoked": count, "keys_scanned": bar.done}, f"Revoked {count} session(s).")

    def do_stats(self, options: dict[str, Any]) -> None:
        bar = self.bar(options, "scanning", store.size_hint())
        result = store.stats(batch_size=options["batch_size"], progress=bar)
        bar.finish()
        memory = "unknown (no MEMORY USAGE)" if result.memory_bytes is None else f"{result.memory_bytes} bytes"
        text = "\n".join(
            [
                f"live sessions:        {result.sessions}",
                f"users with sessions:  {result.users}",
                f"user hashes:          {result.user_hashes}",
                f"imported DRF aliases: {result.drf_aliases}",
                f"memory used:          {memory}",
            ]
        )
        self.output(options, {**result.__dict__, "keys_scanned": bar.done}, text)

    def do_reconcile(self, options: dict[str, Any]) -> None:
        bar = self.bar(options, "reconciling", store.size_hint())
        report = reconcile.reconcile(batch_size=options["batch_size"], dry_run=options["dry_run"], progress=bar)
        bar.finish()
        data = report.as_dict()
        verb = "Would revoke" if report.dry_run else "Revoked"
        reasons = ", ".join(f"{name} {count}" for name, count in data["by_reason"].items())
        text = (
            f"{verb} {data['revoked']} of {data['sessions']} live session(s) of {data['users']} user(s): {reasons}."
        )
        self.output(options, data, text)

    def do_import_drf_tokens(self, options: dict[str, Any]) -> None:
        if not apps.is_installed("rest_framework.authtoken"):
            raise CommandError("rest_framework.authtoken is not in INSTALLED_APPS: there are no DRF tokens to import.")
        from rest_framework.authtoken.models import Token

        rows = Token.objects.order_by("key").values_list("user_id", "key", "created")
        total = rows.count()
        bar = self.bar(options, "importing", total)
        imported = done = 0
        last = ""
        while True:
            batch = list(rows.filter(key__gt=last)[: options["batch_size"]])
            if not batch:
                break
            imported += store.import_drf_tokens([store.LegacyToken(*row) for row in batch])
            done += len(batch)
            last = batch[-1][1]
            bar(done)
        bar.finish()
        text = f"Imported {imported} of {done} DRF token(s); {done - imported} were already imported."
        self.output(options, {"tokens": done, "imported": imported, "already_imported": done - imported}, text)
