"""Deploy checks (``manage.py check --deploy``): is the Redis holding the
sessions configured so that it never drops them?

Every session hash has a TTL, so any ``volatile-*`` policy may evict it just
like an ``allkeys-*`` one: only ``noeviction`` keeps sessions until they
expire. Without persistence, a restart logs everyone out.
"""

from __future__ import annotations

from typing import Any

import redis
from django.core.checks import CheckMessage, Warning, register
from redis.exceptions import RedisClusterException

from . import store
from .connection import is_embedded, primaries, text
from .settings import check_hint


def _config(client: Any) -> dict[str, str]:
    raw = client.config_get("maxmemory-policy")
    raw.update(client.config_get("appendonly"))
    raw.update(client.config_get("save"))
    raw.update(client.config_get("min-replicas-to-write"))
    config = {text(key): text(value) for key, value in raw.items()}
    memory, replication = client.info("memory"), client.info("replication")
    config["used_memory"] = str(memory.get("used_memory", 0))
    config["maxmemory"] = str(memory.get("maxmemory", 0))
    config["connected_slaves"] = str(replication.get("connected_slaves", 0))
    return config


#: Used memory above this fraction of maxmemory gets a warning: new logins
#: are refused (503) once it is reached.
MEMORY_WARNING = 0.9


@register("redistoken", deploy=True)
def check_redis_deployment(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if is_embedded():
        return []  # redistoken.W001 already says so
    try:
        configs = [_config(client) for client in primaries()]
    except redis.exceptions.ResponseError:
        return [
            Warning(
                "redistoken could not read the Redis configuration (CONFIG GET is disabled).",
                hint=check_hint(
                    "redistoken.W010",
                    "Make sure the Redis holding sessions uses maxmemory-policy noeviction and persistence (AOF).",
                ),
                id="redistoken.W010",
            )
        ]
    except (redis.exceptions.RedisError, RedisClusterException) as exc:
        return [
            Warning(
                f"redistoken could not reach Redis to check its configuration ({type(exc).__name__}).",
                hint=check_hint("redistoken.W011", "Run the deploy checks where Redis is reachable."),
                id="redistoken.W011",
            )
        ]
    messages: list[CheckMessage] = []
    policies = {config.get("maxmemory-policy", "") for config in configs} - {"noeviction"}
    if policies:
        messages.append(
            Warning(
                f"Redis maxmemory-policy {', '.join(sorted(policies))} can evict sessions "
                "(every session hash has a TTL, so volatile-* policies evict them too).",
                hint=check_hint(
                    "redistoken.W012",
                    "Set maxmemory-policy noeviction on the Redis holding sessions, and size maxmemory "
                    "from the bytes per session.",
                ),
                id="redistoken.W012",
            )
        )
    if any(config.get("appendonly") != "yes" and not config.get("save") for config in configs):
        messages.append(
            Warning(
                "Redis persistence is off: a Redis restart logs every user out.",
                hint=check_hint(
                    "redistoken.W013", "Set appendonly yes (appendfsync everysec) on the Redis holding sessions."
                ),
                id="redistoken.W013",
            )
        )
    full = [c for c in configs if int(c["maxmemory"]) and int(c["used_memory"]) >= MEMORY_WARNING * int(c["maxmemory"])]
    if full:
        messages.append(
            Warning(
                f"Redis uses {max(int(c['used_memory']) * 100 // int(c['maxmemory']) for c in full)}% of maxmemory: "
                "once it is reached, new logins are refused (503).",
                hint=check_hint(
                    "redistoken.W014",
                    "Raise maxmemory (sessions are served and revoked on a full Redis, but none can be created).",
                ),
                id="redistoken.W014",
            )
        )
    if any(int(c["connected_slaves"]) and c.get("min-replicas-to-write", "0") == "0" for c in configs):
        messages.append(
            Warning(
                "Redis has replicas but min-replicas-to-write 0: a primary cut off from its replicas keeps taking "
                "writes that a failover then loses.",
                hint=check_hint(
                    "redistoken.W015", "Set min-replicas-to-write 1 and min-replicas-max-lag 10 on the primary."
                ),
                id="redistoken.W015",
            )
        )
    return messages


@register("redistoken", deploy=True)
def check_shared_prefix(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Sessions under our prefix that our keys did not make: another
    deployment shares the database and prefix (isolated from us by its key,
    but ``revoke --all`` and ``stats`` would count it in), or a key was
    retired while its sessions live. A sample: about the first 1000 hashes."""
    if is_embedded():
        return []
    try:
        foreign = store.foreign_sessions()
    except (store.StoreUnavailable, redis.exceptions.RedisError, RedisClusterException):
        return []  # redistoken.W011 already says Redis is unreachable
    if not foreign:
        return []
    return [
        Warning(
            f"{foreign} session(s) under KEY_PREFIX were made with a signing key this deployment does not have: "
            "another deployment shares this Redis database and prefix, or a key was dropped from "
            "SIGNING_KEY_FALLBACKS too early.",
            hint=check_hint(
                "redistoken.W016",
                "Give each deployment its own KEY_PREFIX (or database); keep a rotated key in "
                "SIGNING_KEY_FALLBACKS until ABSOLUTE_LIFETIME has passed.",
            ),
            id="redistoken.W016",
        )
    ]
