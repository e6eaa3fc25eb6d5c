"""The Redis scripts, each ``lua/<name>.lua`` declared once as a :class:`Script`.

Modelled on redis-py's ``Script``: the source is read and hashed once, a call
is one EVALSHA, and a server that lost its script cache (a restart or a
failover: NOSCRIPT) gets the source once by EVAL, which caches it there
again. Unlike redis-py's, each script is declared with its KEYS and ARGV as
a Python signature (:func:`lua`), checked at import against the header
comment of the script, so a misspelt script name, a call with the wrong
arity (mypy checks the types too) and a header that no longer matches the
script's use all fail before anything reaches Redis.

``common.lua`` is prepended to every script (Redis scripts cannot import
code), after a first ``#!lua flags=...`` line when the script has one: Redis 7
reads script flags only from the first line.
"""

from __future__ import annotations

import hashlib
import inspect
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, Generic, Literal, ParamSpec

import redis

from ..connection import Client, get_client, is_cluster
from . import durability
from .errors import REDIS_FAILURES, raise_store_error, unavailable_as_error

P = ParamSpec("P")

LUA_DIR = Path(__file__).with_name("lua")

_HEADER_ITEM = re.compile(r"^-- (KEYS|ARGV)\[(\d+)\]", re.MULTILINE)


def build_source(common: str, script: str) -> str:
    """``common`` + ``script``, keeping a ``#!`` flags line of the script first."""
    if script.startswith("#!"):
        flags, _, body = script.partition("\n")
        return f"{flags}\n{common}{body}"
    return common + script


def documented(script: str) -> tuple[int, int]:
    """How many KEYS and ARGV the header comment of ``script`` describes."""
    lines = script.splitlines()[1:] if script.startswith("#!") else script.splitlines()
    header = []
    for line in lines:
        if not line.startswith("--"):
            break
        header.append(line)
    counts = {"KEYS": 0, "ARGV": 0}
    for kind, index in _HEADER_ITEM.findall("\n".join(header)):
        counts[kind] = max(counts[kind], int(index))
    return counts["KEYS"], counts["ARGV"]


@cache
def _common() -> str:
    return (LUA_DIR / "common.lua").read_text()


class Script(Generic[P]):
    """A script called like the function it was declared as: KEYS, then ARGV."""

    def __init__(
        self, declaration: Callable[P, Any], numkeys: int, directory: Path = LUA_DIR, *, durable: bool = False
    ) -> None:
        #: Revoking and issuing writes are answered only once replicas confirm
        #: them (:mod:`.durability`); the others (a renewal) are fire-and-forget.
        self.durable = durable
        self.name = declaration.__name__.rstrip("_")  # import_ -> import.lua
        self.params = tuple(inspect.signature(declaration).parameters.values())
        if any(param.kind is not param.POSITIONAL_ONLY for param in self.params):
            raise TypeError(f"{self.name}: declare KEYS and ARGV as positional-only parameters")
        text = (directory / f"{self.name}.lua").read_text()
        if documented(text) != (numkeys, len(self.params) - numkeys):
            raise TypeError(
                f"{self.name}.lua documents {documented(text)} KEYS and ARGV, but its declaration "
                f"takes {numkeys} KEYS and {len(self.params) - numkeys} ARGV"
            )
        self.numkeys, self.arity = numkeys, len(self.params)
        self.source = build_source(_common(), text)
        self.sha = hashlib.sha1(self.source.encode()).hexdigest()
        self.__doc__ = declaration.__doc__

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Any:
        """Run on the store's client (the request path: no more work than this)."""
        if kwargs or len(args) != self.arity:
            raise self._misuse(len(args), kwargs)
        try:
            client = get_client()  # a Cluster client connects while it is built
        except REDIS_FAILURES as exc:
            raise_store_error(exc)
        return self.run(client, args)

    def args(self, *args: P.args, **kwargs: P.kwargs) -> tuple[Any, ...]:
        """The arguments of one call, checked, for :func:`run_many`."""
        if kwargs or len(args) != self.arity:
            raise self._misuse(len(args), kwargs)
        return args

    def run(self, client: Client, args: tuple[Any, ...]) -> Any:
        """EVALSHA on ``client``; after NOSCRIPT, the source once by EVAL. A
        durable script waits for its replicas on the connection that wrote."""
        try:
            if self.durable:
                node, needed = durability.target(client, args[0])
                if needed:
                    return self._run_confirmed(node, args, needed)
            try:
                return client.evalsha(self.sha, self.numkeys, *args)
            except redis.exceptions.NoScriptError:
                return client.eval(self.source, self.numkeys, *args)
        except REDIS_FAILURES as exc:  # unavailable_as_error, inlined: this is the request path
            raise_store_error(exc)

    def _run_confirmed(self, node: redis.Redis, args: tuple[Any, ...], needed: int) -> Any:
        """The script and ``WAIT`` in one round trip on one connection (WAIT
        counts the replicas that have this connection's writes)."""
        for command in ("evalsha", "eval"):
            pipe = node.pipeline(transaction=False)
            getattr(pipe, command)(self.sha if command == "evalsha" else self.source, self.numkeys, *args)
            durability.wait(pipe, needed)
            result, acked = pipe.execute(raise_on_error=False)
            if not isinstance(result, redis.exceptions.NoScriptError):
                break
        if isinstance(result, Exception):
            raise_store_error(result)
        durability.check(acked, needed)
        return result

    def _misuse(self, count: int, kwargs: dict[str, Any]) -> TypeError:
        names = ", ".join(param.name for param in self.params)
        return TypeError(f"{self.name}({names}) takes {self.arity} positional arguments, got {count} and {kwargs}")

    def __repr__(self) -> str:
        return f"<Script {self.name}.lua {self.sha[:8]}>"


def lua(numkeys: int, *, durable: bool = False) -> Callable[[Callable[P, Any]], Script[P]]:
    """Declare ``lua/<function name>.lua``: the function's positional-only
    parameters are its KEYS (the first ``numkeys``) and then its ARGV;
    ``durable``: answered only once replicas confirm its writes."""

    def declare(declaration: Callable[P, Any]) -> Script[P]:
        return Script(declaration, numkeys, durable=durable)

    return declare


def run_many(client: Client, script: Script[Any], calls: list[tuple[Any, ...]], *extra: tuple[str, Any]) -> list[Any]:
    """Run ``script`` once per call (built by :meth:`Script.args`) in one
    pipelined round trip, plus ``extra`` (method name, args) commands whose
    errors come back as values. The pipeline loads the script first, so a
    server that lost its script cache runs the batch all the same."""
    if is_cluster(client) and not extra:  # RedisCluster pipelines refuse EVALSHA
        return [script.run(client, args) for args in calls]
    with unavailable_as_error():
        needed = durability.target(client, calls[0][0])[1] if script.durable and calls else 0
        pipe = client.pipeline(transaction=False)
        pipe.script_load(script.source)
        for args in calls:
            pipe.evalsha(script.sha, script.numkeys, *args)
        for method, args in extra:
            getattr(pipe, method)(*args)
        if needed:
            durability.wait(pipe, needed)  # after every write of the batch, on the same connection
        results = pipe.execute(raise_on_error=False)[1:]
    for result in results[: len(calls)]:
        if isinstance(result, Exception):
            raise_store_error(result)
    if needed:
        durability.check(results.pop(), needed)
    return list(results)


# -- the scripts (each file's header says what KEYS, ARGV and the result hold) --

Mode = Literal["session", "token", "others", "user", "hash"]


@lua(numkeys=1)
def authenticate(
    user_hash: str,
    session_field: bytes,
    session_id: str,
    verifiers: bytes,
    legacy_verifier: str,
    idle_ms: int,
    renew_ms: int,
    lifetime_ms: int,
    /,
) -> Any:
    """Validate one session and slide its expiry: the whole per-request cost."""


@lua(numkeys=1, durable=True)
def issue(
    user_hash: str,
    session_field: bytes,
    verifier: bytes,
    kinds: int,
    credential: str,
    rest: bytes,
    user_agent: str,
    idle_ms: int,
    lifetime_ms: int,
    user_id: str,
    cap: int,
    device: bytes,
    /,
) -> Any:
    """Store a new session, replacing one on the same device, evicting over the cap."""


@lua(numkeys=1)
def sessions(user_hash: str, user_id: str, idle_ms: int, lifetime_ms: int, /) -> Any:
    """One user's live sessions, pruning expired ones."""


@lua(numkeys=2, durable=True)
def revoke(
    user_hash: str,
    receipt_key: str,
    user_id: str,
    mode: Mode,
    session_id: str,
    verifiers: bytes,
    session_field: bytes,
    legacy_verifier: str,
    /,
) -> Any:
    """End sessions of one hash: one, by token, the others, the user's, the whole hash's."""


@lua(numkeys=1)
def census(user_hash: str, idle_ms: int, lifetime_ms: int, /) -> Any:
    """Live sessions and distinct users of one hash (read-only), for stats."""


@lua(numkeys=1)
def import_(
    user_hash: str,
    session_field: bytes,
    session_id: str,
    verifier: bytes,
    idle_ms: int,
    lifetime_ms: int,
    user_id: str,
    /,
) -> Any:
    """Store a session for an imported DRF key, unless it is there already."""


ThrottleMode = Literal["attempt", "success"]


@lua(numkeys=4)
def throttle(
    pair_key: str,
    address_key: str,
    user_key: str,
    slot_key: str,
    mode: ThrottleMode,
    pair_limit: int,
    pair_window_ms: int,
    address_limit: int,
    address_window_ms: int,
    user_ceiling: int,
    user_window_ms: int,
    /,
) -> Any:
    """Check and count a login failure per (username, address), address and username."""


@lua(numkeys=1)
def recredential(user_hash: str, user_id: str, session_field: bytes, credential: str, /) -> Any:
    """Record a session's new credential fingerprint (it outlives its account's change)."""


@lua(numkeys=1)
def roster(user_hash: str, idle_ms: int, lifetime_ms: int, /) -> Any:
    """Each live session of one hash with its user id and credential (read-only), for reconcile."""


@lua(numkeys=1, durable=True)
def revoke_listed(user_hash: str, packed_sessions: bytes, /) -> Any:
    """End exactly the listed sessions of one hash that are unchanged since the listing."""
