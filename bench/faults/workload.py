"""One client process of a fault run: its own user, one request at a time,
each recorded (start, end, session, result) to its own JSONL file.

Its own user, so that the only revocations of its sessions are its own and
their order is known; it still sends requests with tokens it revoked, which
is how a revocation that did not hold shows up.
"""

from __future__ import annotations

import http.client
import json
import random
import time
from multiprocessing.synchronize import Event
from typing import Any

PASSWORD = "faults-password"
#: Sessions a client keeps before it stops logging in: with revocations a
#: few percent of the operations, mostly of the oldest session, a session
#: lives some ten seconds, across the start or end of a fault.
KEEP = 30
#: Seconds between two requests of one client.
THINK = 0.02
#: Seconds a client waits after a failed call (a 503 takes no time at all).
BACKOFF = 0.1


class Client:
    def __init__(self, index: int, port: int, history: str, seed: int) -> None:
        self.index, self.port = index, port
        self.user = f"faults{index}"
        self.rng = random.Random(seed)
        self.file = open(history, "a", buffering=1)  # kept open for the process's life
        self.tokens: dict[str, str] = {}  # session id -> token, every one ever issued
        self.live: list[str] = []  # sessions not revoked by an acknowledged call of ours
        self.revoked: list[str] = []  # revoked by an acknowledged call, most recent last

    def call(
        self,
        kind: str,
        method: str,
        path: str,
        *,
        session: str | None = None,
        target: str | None = None,
        body: dict[str, Any] | None = None,
        auth: str | None = None,
    ) -> tuple[int | None, Any]:
        headers = {"Content-Type": "application/json"}
        if auth is not None:
            headers["Authorization"] = f"Token {auth}"
        status: int | None = None
        error = data = None
        retry_after = False
        t0 = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            status = response.status
            retry_after = bool(response.getheader("Retry-After"))
            data = (
                json.loads(raw)
                if raw and response.getheader("Content-Type", "").startswith("application/json")
                else None
            )
        except (OSError, http.client.HTTPException, ValueError) as exc:
            error = f"{type(exc).__name__}"
        finally:
            conn.close()
        t1 = time.monotonic()
        if status is None or status >= 500:
            time.sleep(BACKOFF)  # as a client would, if not for the whole Retry-After
        if kind == "login" and status == 200 and isinstance(data, dict):
            session = data["session"]["id"]
        record = {
            "type": "op",
            "kind": kind,
            "process": self.index,
            "user": self.user,
            "session": session,
            "target": target,
            "t0": t0,
            "t1": t1,
            "status": status,
            "retry_after": retry_after,
            "error": error,
        }
        self.file.write(json.dumps(record) + "\n")
        return status, data

    # -- the operations ------------------------------------------------------

    def login(self) -> None:
        status, data = self.call("login", "POST", "/auth/login/", body={"username": self.user, "password": PASSWORD})
        if status == 200:
            sid = data["session"]["id"]
            self.tokens[sid] = data["token"]
            self.live.append(sid)

    def me(self, sid: str) -> None:
        self.call("me", "GET", "/api/me/", session=sid, auth=self.tokens[sid])

    def logout(self, sid: str) -> None:
        if self.call("logout", "POST", "/auth/logout/", session=sid, auth=self.tokens[sid])[0] == 204:
            self._revoked([sid])

    def logout_all(self, sid: str) -> None:
        if self.call("logout_all", "POST", "/auth/logout-all/", session=sid, auth=self.tokens[sid])[0] == 204:
            self._revoked(list(self.live))

    def logout_others(self, sid: str) -> None:
        status, _ = self.call("logout_others", "POST", "/auth/logout-others/", session=sid, auth=self.tokens[sid])
        if status == 200:
            self._revoked([s for s in self.live if s != sid])

    def delete(self, sid: str, target: str) -> None:
        path = f"/auth/sessions/{target}/"
        if self.call("delete", "DELETE", path, session=sid, target=target, auth=self.tokens[sid])[0] == 204:
            self._revoked([target])

    def revoke(self, target: str) -> None:
        body = {"token": self.tokens[target]}
        if self.call("revoke", "POST", "/auth/revoke/", target=target, body=body)[0] == 200:
            self._revoked([target])

    def _revoked(self, sessions: list[str]) -> None:
        self.live[:] = [sid for sid in self.live if sid not in sessions]
        self.revoked += sessions

    def step(self) -> None:
        """One operation, chosen at random, most of them authenticated requests."""
        rng = self.rng
        time.sleep(THINK)
        if not self.live or (len(self.live) < KEEP and rng.random() < 0.1):
            return self.login()
        sid = rng.choice(self.live)
        oldest = self.live[0] if rng.random() < 0.7 else sid
        others = [s for s in self.live if s != sid]
        roll = rng.random()
        if roll < 0.15 and self.revoked:  # a revoked token must stay revoked: try the latest ones
            self.me(rng.choice(self.revoked[-50:]))
        elif roll < 0.88:
            self.me(sid)
        elif roll < 0.92:
            self.logout(oldest)
        elif roll < 0.95 and others:
            self.delete(sid, others[0] if oldest != sid else rng.choice(others))
        elif roll < 0.98:
            self.revoke(oldest)
        elif roll < 0.995:
            self.logout_others(sid)
        elif roll < 0.998:
            self.logout_all(sid)
        else:
            self.login()
        return None

    def verify(self, seconds: float) -> None:
        """The final phase: every token ever issued, until each gets an answer
        that is not 503 (or ``seconds`` pass)."""
        pending = list(self.tokens)
        deadline = time.monotonic() + seconds
        while pending and time.monotonic() < deadline:
            sid = pending.pop(0)
            status, _ = self.call("verify", "GET", "/api/me/", session=sid, auth=self.tokens[sid])
            if status not in (200, 401):
                pending.append(sid)
                time.sleep(0.2)


def run(index: int, port: int, history: str, stop: Event, verify_seconds: float) -> None:
    """The body of one client process: steps until ``stop``, then verifies."""
    client = Client(index, port, history, seed=index)
    while not stop.is_set():
        client.step()
    client.verify(verify_seconds)
    client.file.close()
