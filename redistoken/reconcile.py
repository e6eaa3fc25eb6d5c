"""Reconcile the store with the user table: end every session whose account
no longer allows it (``manage.py redistoken reconcile``).

The remedy for changes that send no signal and that no request will catch:
``QuerySet.update()``, raw SQL, a restored backup, a deletion in another
service. A request that loads the user refuses such a session already
(:mod:`.users`), but a view that reads only ``request.user.pk`` never loads
it. This walks every live session (SCAN, a batch of user hashes at a time),
loads the batch's users in batched queries, and revokes exactly the
sessions scanned whose user is gone, inactive (any falsy ``is_active``) or
no longer fits the session's credential fingerprint: the rule a request
applies (:func:`.users.refusal`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from . import store, users

#: Why reconcile ends a session, in the order it is checked.
REASONS = (store.Reason.DELETED, store.Reason.DEACTIVATED, store.Reason.CREDENTIAL_CHANGED)


@dataclass
class Report:
    """What one run found; ``revoked`` counts by reason (with ``dry_run``:
    what would have been revoked)."""

    dry_run: bool
    keys_scanned: int = 0
    sessions: int = 0
    users: int = 0
    revoked: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        by_reason = {reason.value: self.revoked[reason.value] for reason in REASONS}
        return {
            "dry_run": self.dry_run,
            "keys_scanned": self.keys_scanned,
            "sessions": self.sessions,
            "users": self.users,
            "revoked": sum(by_reason.values()),
            "by_reason": by_reason,
        }


def reconcile(*, batch_size: int = 500, dry_run: bool = False, progress: store.Progress | None = None) -> Report:
    """End (or, with ``dry_run``, count) every session its account no longer allows."""
    report = Report(dry_run=dry_run)

    def scanned(done: int) -> None:
        report.keys_scanned = done
        if progress:
            progress(done)

    for batch in store.scan_sessions(batch_size=batch_size, progress=scanned):
        accounts = _users({session.user_id for session in batch}, batch_size)
        report.sessions += len(batch)
        report.users += len({session.user_id for session in batch})
        doomed: dict[store.Reason, list[store.Listed]] = {}
        # A fingerprint is an HMAC (about 10 µs): once per user and credential.
        refusal = cache(lambda user_id, credential, found=accounts: users.refusal(found.get(user_id), credential))
        for session in batch:
            reason = refusal(session.user_id, session.credential)
            if reason is not None:
                doomed.setdefault(reason, []).append(session)
        for reason, sessions in doomed.items():
            count = len(sessions) if dry_run else len(store.revoke_listed(sessions, reason=reason))
            report.revoked[reason.value] += count
    return report


def _users(user_ids: Iterable[str], batch_size: int) -> dict[str, Any]:
    """The users with these stored ids, by stored id, in queries of at most
    ``batch_size`` ids, loading only what :func:`.users.refusal` reads. An id that is not
    a valid key for the user model (from another model, say) is no user."""
    model = get_user_model()
    pk = model._meta.pk
    concrete = {f.attname for f in model._meta.concrete_fields}
    fields = [pk.attname, *(name for name in ("password", "is_active") if name in concrete)]
    keys: list[Any] = []
    for user_id in user_ids:
        try:
            keys.append(pk.to_python(user_id))
        except (ValidationError, ValueError, TypeError, OverflowError):
            pass
    found: dict[str, Any] = {}
    for start in range(0, len(keys), batch_size):
        rows = model._default_manager.filter(pk__in=keys[start : start + batch_size]).only(*fields)
        found.update((store.user_id_of(user), user) for user in rows)
    return found
