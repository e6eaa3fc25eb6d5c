"""The checker: a pure function of a fault run's history, so every rule can be
proven on hand-made histories (tests/test_faults_checker.py).

A history is a list of records (the JSONL file, one dict a line):

* ``{"type": "meta", "idle_timeout": s, "absolute_lifetime": s, "renew_interval": s, ...}``
* ``{"type": "fault", "name": ..., "t0": ..., "t1": ...}``: a fault from its
  start until the servers were healed again.
* ``{"type": "op", "kind": ..., "process": n, "user": ..., "session": sid,
  "target": sid, "t0": ..., "t1": ..., "status": int or None,
  "retry_after": bool, "error": text or None}``: one HTTP request. ``session``
  is the session whose token authenticated it (for ``login``: the session it
  created, when acknowledged); ``target`` the session a ``delete`` or
  ``revoke`` ended. ``status`` None means no HTTP answer at all.

Times are one clock shared by every process (CLOCK_MONOTONIC). Kinds:
``login``, ``me`` (an authenticated request), ``logout``, ``logout_all``,
``logout_others``, ``delete`` (DELETE of one session), ``revoke`` (RFC 7009,
unauthenticated) and ``verify`` (an authenticated request of the final
phase, after every fault healed). Logins carry no device name, so a login
never replaces an older session.

The rules, each judged with what the history proves and nothing more: a
revocation that failed may still have happened, so it excuses a later 401;
only an acknowledged one makes a later 200 a violation.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Record = dict[str, Any]

STALE_ACCEPT = "accepted after an acknowledged revocation"
SERVER_ERROR = "500"
LIVE_REFUSED = "401/404 for a live session"
LOST_LOGIN = "acknowledged login not working after healing"
BAD_ERROR = "error that is not 503 with Retry-After"
FULL_REDIS_REFUSED = "full Redis refused more than a login"
RULES = (STALE_ACCEPT, SERVER_ERROR, LIVE_REFUSED, LOST_LOGIN, BAD_ERROR, FULL_REDIS_REFUSED)

#: What each kind answers when it did its work.
SUCCESS = {
    "login": (200,),
    "me": (200,),
    "verify": (200,),
    "logout": (204,),
    "logout_all": (204,),
    "logout_others": (200,),
    "delete": (204,),
    "revoke": (200,),
}
REVOKING = ("logout", "logout_all", "logout_others", "delete", "revoke")
AUTHENTICATED = ("me", "verify", "logout", "logout_all", "logout_others", "delete")
LIVE_KINDS = tuple(kind for kind in AUTHENTICATED if kind != "verify")
#: The fault under which only new logins may be refused (the README's promise).
FULL_REDIS_FAULT = "maxmemory"


@dataclass
class Report:
    ops: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, result) -> count
    faults: Counter[str] = field(default_factory=Counter)
    fault_seconds: Counter[str] = field(default_factory=Counter)
    violations: dict[str, list[str]] = field(default_factory=lambda: {rule: [] for rule in RULES})

    @property
    def ok(self) -> bool:
        return not any(self.violations.values())

    def table(self, examples: int = 3) -> str:
        """The summary: operations by kind and result, faults, violations by rule."""
        lines = ["## Operations", "| kind | result | count |", "|---|---|---:|"]
        lines += [f"| {kind} | {result} | {n} |" for (kind, result), n in sorted(self.ops.items())]
        lines += ["", "## Faults", "| fault | times | seconds |", "|---|---:|---:|"]
        lines += [f"| {name} | {n} | {self.fault_seconds[name]:.1f} |" for name, n in sorted(self.faults.items())]
        lines += ["", "## Violations", "| rule | count | first examples |", "|---|---:|---|"]
        for rule in RULES:
            found = self.violations[rule]
            lines.append(f"| {rule} | {len(found)} | {'; '.join(found[:examples])} |")
        lines += ["", "PASS" if self.ok else "FAIL"]
        return "\n".join(lines)


def _result(op: Record) -> str:
    if op["status"] is None:
        return f"no answer ({op.get('error') or '?'})"
    if op["status"] == 503 and not op.get("retry_after"):
        return "503 without Retry-After"
    return str(op["status"])


def _describe(op: Record, why: str) -> str:
    subject = op.get("target") or op.get("session") or "-"
    return f"{op['kind']} p{op.get('process')} {subject} [{op['t0']:.3f}-{op['t1']:.3f}] {_result(op)}: {why}"


def _overlaps(op: Record, fault: Record) -> bool:
    return bool(op["t0"] < fault["t1"] and fault["t0"] < op["t1"])


class _Sessions:
    """What the history proves about each session: when it was issued, when a
    revocation of it was acknowledged, and from when one may have happened."""

    def __init__(self, ops: list[Record]) -> None:
        logins = (op for op in ops if op["kind"] == "login" and op["status"] == 200)
        self.login: dict[str, Record] = {op["session"]: op for op in logins}
        self.by_user: dict[str, list[Record]] = defaultdict(list)
        for login in self.login.values():
            self.by_user[login["user"]].append(login)
        self.revoked_at: dict[str, float] = {}  # acknowledged: the revocation's end
        self.maybe_revoked_from: dict[str, float] = {}  # attempted: the revocation's start
        for op in ops:
            if op["kind"] not in REVOKING or op["status"] in (401, 404, 400, 403):
                continue  # refused: it revoked nothing
            acknowledged = op["status"] in SUCCESS[op["kind"]]
            for sid in self._covered(op, certain=False):
                self.maybe_revoked_from[sid] = min(self.maybe_revoked_from.get(sid, op["t0"]), op["t0"])
            if acknowledged:
                for sid in self._covered(op, certain=True):
                    self.revoked_at[sid] = min(self.revoked_at.get(sid, op["t1"]), op["t1"])
        self.accepted: dict[str, list[float]] = defaultdict(list)  # a session's accepted requests' starts
        for op in ops:
            if op["kind"] in AUTHENTICATED and self.was_accepted(op):
                self.accepted[op["session"]].append(op["t0"])

    def _covered(self, op: Record, *, certain: bool) -> list[str]:
        """Sessions the revocation ended (certain) or may have ended."""
        if op["kind"] == "logout":
            return [op["session"]]
        if op["kind"] in ("delete", "revoke"):
            return [op["target"]] if op.get("target") else []
        # logout_all / logout_others: the user's sessions issued before it
        # started (certain), or whose issue overlapped it (maybe).
        sessions = [
            login["session"]
            for login in self.by_user.get(op["user"], [])
            if (login["t1"] < op["t0"] if certain else login["t0"] < op["t1"])
        ]
        if op["kind"] == "logout_others":
            sessions = [sid for sid in sessions if sid != op["session"]]
        return sessions

    @staticmethod
    def was_accepted(op: Record) -> bool:
        """The request's own token was accepted (a delete's 404 is about its target)."""
        return op["status"] in SUCCESS[op["kind"]] or (op["kind"] == "delete" and op["status"] == 404)

    def live(self, sid: str, at: float, meta: Record) -> bool:
        """Whether ``sid`` was certainly live at ``at``: issued, no revocation
        even attempted before, and not possibly expired."""
        login = self.login.get(sid)
        if login is None or login["t1"] > at or self.maybe_revoked_from.get(sid, at) < at:
            return False
        if at >= login["t0"] + meta["absolute_lifetime"]:
            return False
        last_use = max([login["t0"], *(t for t in self.accepted[sid] if t < at)])
        return at < last_use + meta["idle_timeout"] - meta["renew_interval"]


def check(history: Iterable[Record]) -> Report:
    """Judge a history against every rule; returns the counts and violations."""
    records = list(history)
    meta = next((r for r in records if r["type"] == "meta"), {})
    meta = {
        "idle_timeout": float("inf"),
        "absolute_lifetime": float("inf"),
        "renew_interval": 0.0,
        "socket_timeout": float("inf"),
        **meta,
    }
    ops = sorted((r for r in records if r["type"] == "op"), key=lambda r: (r["t0"], r["t1"]))
    faults = [r for r in records if r["type"] == "fault"]
    report = Report()
    for fault in faults:
        report.faults[fault["name"]] += 1
        report.fault_seconds[fault["name"]] += fault["t1"] - fault["t0"]
    sessions = _Sessions(ops)
    violations = report.violations
    last_verify: dict[str, Record] = {}
    for op in ops:
        report.ops[op["kind"], _result(op)] += 1
        status = op["status"]
        if op["kind"] == "verify":
            last_verify[op["session"]] = op
        if status == 500:
            violations[SERVER_ERROR].append(_describe(op, "a server error"))
        elif status != 401 and status not in SUCCESS[op["kind"]] and not (op["kind"] == "delete" and status == 404):
            if status != 503 or not op.get("retry_after"):
                violations[BAD_ERROR].append(_describe(op, "not a 503 with Retry-After"))
        if op["kind"] in AUTHENTICATED and sessions.was_accepted(op):
            revoked = sessions.revoked_at.get(op["session"])
            if revoked is not None and op["t0"] > revoked:
                violations[STALE_ACCEPT].append(_describe(op, f"its revocation was acknowledged at {revoked:.3f}"))
        if op["kind"] == "delete" and status == 204 and op.get("target"):
            revoked = sessions.revoked_at.get(op["target"])
            if revoked is not None and op["t0"] > revoked:
                violations[STALE_ACCEPT].append(_describe(op, f"target revoked (acknowledged) at {revoked:.3f}"))
        # The final phase's answers are LOST_LOGIN's to judge.
        if op["kind"] in LIVE_KINDS and status == 401 and sessions.live(op["session"], op["t1"], meta):
            violations[LIVE_REFUSED].append(_describe(op, "401 for a live session"))
        target = op.get("target")
        if op["kind"] == "delete" and status == 404 and target and sessions.live(target, op["t1"], meta):
            violations[LIVE_REFUSED].append(_describe(op, "404 deleting a live session"))
        # Redis refuses a write for memory at once: a 503 that took a socket
        # timeout or longer met a slow server (a disk stall), not the full one.
        if status == 503 and op["kind"] != "login" and op["t1"] - op["t0"] < meta["socket_timeout"]:
            during = [fault["name"] for fault in faults if _overlaps(op, fault)]
            if during and set(during) == {FULL_REDIS_FAULT}:
                violations[FULL_REDIS_REFUSED].append(_describe(op, "refused while only memory was full"))
    for sid, login in sessions.login.items():
        if sid in sessions.maybe_revoked_from:
            continue
        final = last_verify.get(sid)
        if final is None:
            violations[LOST_LOGIN].append(_describe(login, "never verified after healing"))
        elif final["status"] != 200 and sessions.live(sid, final["t0"], meta):
            violations[LOST_LOGIN].append(_describe(final, "its acknowledged login does not work after healing"))
    return report
