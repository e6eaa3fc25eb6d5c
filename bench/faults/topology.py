"""The private servers of a fault run and the faults each topology plays.

Every fault is a blocking ``play(seconds)`` that breaks something and heals
it again: it returns only once the servers are whole (a primary serving, the
replicas linked, the cluster ``ok``), so the window the history records for a
fault covers the whole disturbance, healing included.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import redis

from tests.proxy import FreezingProxy
from tests.servers import RedisClusterServers, RedisServer, SentinelServer

#: Every data node: an acknowledged write is on disk before the reply.
DURABLE = ("--appendonly", "yes", "--appendfsync", "always")

Fault = Callable[[float], None]


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (redis.exceptions.RedisError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what}: not reached in {timeout:.0f} s")


def _role(server: RedisServer) -> dict[str, Any]:
    return dict(server.client().info("replication"))


class Topology:
    name = ""

    def start(self) -> None:
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        """The REDISTOKEN connection settings of the app."""
        raise NotImplementedError

    def faults(self) -> dict[str, Fault]:
        raise NotImplementedError

    def cleanup(self) -> None:
        raise NotImplementedError


class Single(Topology):
    """One server (AOF ``always``) behind a proxy the run can freeze."""

    name = "single"

    def __init__(self) -> None:
        self.server = RedisServer(*DURABLE)
        self.proxy: FreezingProxy | None = None

    def start(self) -> None:
        self.server.start()
        self.proxy = FreezingProxy(self.server.port, every_connection=True)

    def settings(self) -> dict[str, Any]:
        assert self.proxy is not None
        return {"REDIS_URL": self.proxy.url}

    def faults(self) -> dict[str, Fault]:
        return {
            "kill-restart": self.kill_restart,
            "pause": self.pause,
            "proxy-freeze": self.freeze,
            "maxmemory": self.maxmemory,
        }

    def kill_restart(self, seconds: float) -> None:
        self.server.kill()
        time.sleep(seconds)
        self.server.start()  # same port and directory: the AOF is replayed

    def pause(self, seconds: float) -> None:
        self.server.pause()
        time.sleep(seconds)
        self.server.resume()

    def freeze(self, seconds: float) -> None:
        assert self.proxy is not None
        self.proxy.freeze()
        time.sleep(seconds)
        self.proxy.thaw()

    def maxmemory(self, seconds: float) -> None:
        """Full: ``maxmemory`` well under what is used now, with ``noeviction``
        (at exactly the limit, a few logouts free room for a few writes)."""
        admin = self.server.client()
        used = int(admin.info("memory")["used_memory"])
        admin.config_set("maxmemory-policy", "noeviction")
        admin.config_set("maxmemory", str(used // 2))
        time.sleep(seconds)
        admin.config_set("maxmemory", "0")

    def cleanup(self) -> None:
        if self.proxy is not None:
            self.proxy.close()
        self.server.cleanup()


class Sentinel(Topology):
    """A primary, a replica (both AOF ``always``) and three sentinels (quorum 2)."""

    name = "sentinel"

    def __init__(self) -> None:
        self.servers = [RedisServer(*DURABLE), RedisServer(*DURABLE)]
        self.sentinels: list[SentinelServer] = []

    def start(self) -> None:
        first, second = self.servers
        first.start()
        second.extra = (*second.extra, "--replicaof", "127.0.0.1", str(first.port))
        second.start()
        self.sentinels = [SentinelServer(first, quorum=2).start() for _ in range(3)]
        self.heal()

    def settings(self) -> dict[str, Any]:
        return {
            "SENTINELS": [["127.0.0.1", sentinel.port] for sentinel in self.sentinels],
            "SENTINEL_SERVICE_NAME": SentinelServer.SERVICE,
        }

    def primary(self) -> RedisServer:
        """The server the sentinels name as primary."""
        _host, port = self.sentinels[0].client().sentinel_get_master_addr_by_name(SentinelServer.SERVICE)
        return next(server for server in self.servers if server.port == int(port))

    def heal(self) -> None:
        """Every server up, the sentinels agreeing on one primary that knows
        itself as such, the other one its replica with the link up."""
        for server in self.servers:
            if server.process is None:
                server.start()

        def whole() -> bool:
            named = {s.client().sentinel_get_master_addr_by_name(SentinelServer.SERVICE)[1] for s in self.sentinels}
            if len(named) != 1:
                return False
            primary = self.primary()
            replica = next(server for server in self.servers if server is not primary)
            known = [len(s.client().sentinel_slaves(SentinelServer.SERVICE)) for s in self.sentinels]
            return (
                _role(primary)["role"] == "master"
                and _role(replica).get("master_port") == primary.port
                and _role(replica).get("master_link_status") == "up"
                and min(known) >= 1
            )

        wait_for(whole, "sentinel topology whole again")

    def faults(self) -> dict[str, Fault]:
        return {"sentinel-failover": self.failover, "kill-primary": self.kill_primary, "pause-primary": self.pause}

    def failover(self, seconds: float) -> None:
        """``SENTINEL FAILOVER``: the planned switch of an operator's day."""
        old = self.primary()
        self.sentinels[0].client().execute_command("SENTINEL", "FAILOVER", SentinelServer.SERVICE)
        wait_for(lambda: self.primary() is not old, "a new primary named")
        self.heal()

    def kill_primary(self, seconds: float) -> None:
        old = self.primary()
        old.kill()
        wait_for(lambda: self.primary() is not old, "a new primary named")
        time.sleep(seconds)
        old.start()  # comes back as a primary; the sentinels turn it into a replica
        self.heal()

    def pause(self, seconds: float) -> None:
        """SIGSTOP longer than ``down-after``: a failover while the old primary sleeps."""
        old = self.primary()
        old.pause()
        try:
            wait_for(lambda: self.primary() is not old, "a new primary named")
            time.sleep(seconds)
        finally:
            old.resume()
        self.heal()

    def cleanup(self) -> None:
        for server in [*self.sentinels, *self.servers]:
            server.cleanup()


class Cluster(Topology):
    """Three primaries, each with a replica, AOF ``always``."""

    name = "cluster"

    def __init__(self) -> None:
        self.cluster = RedisClusterServers(3, *DURABLE, replicas=1)

    def start(self) -> None:
        self.cluster.start()

    def settings(self) -> dict[str, Any]:
        first, *others = self.cluster.nodes
        return {
            "REDIS_URL": first.url,
            "CLUSTER": True,
            "CLUSTER_NODES": [["127.0.0.1", node.port] for node in others],
        }

    def faults(self) -> dict[str, Fault]:
        return {
            "cluster-kill-primary": self.kill_primary,
            "cluster-kill-lone-primary": self.kill_lone_primary,
            "cluster-down": self.down,
        }

    def _primary_and_replica(self) -> tuple[RedisServer, RedisServer]:
        running = [node for node in self.cluster.nodes if node.process is not None]
        primary = random.choice([node for node in running if _role(node)["role"] == "master"])
        replica = next(node for node in running if _role(node).get("master_port") == primary.port)
        return primary, replica

    def heal(self) -> None:
        for node in self.cluster.nodes:
            if node.process is None:
                node.start()

        def whole() -> bool:
            infos = [node.client().execute_command("CLUSTER", "INFO") for node in self.cluster.nodes]
            return all(b"cluster_state:ok" in info for info in infos) and self.cluster.replicas_linked()

        wait_for(whole, "cluster ok with every replica linked")

    def kill_primary(self, seconds: float) -> None:
        """A primary dies; its replica takes over after ``cluster-node-timeout``."""
        primary, replica = self._primary_and_replica()
        primary.kill()
        wait_for(lambda: _role(replica)["role"] == "master", "the replica promoted")
        time.sleep(seconds)
        self.heal()  # the old primary rejoins as a replica

    def kill_lone_primary(self, seconds: float) -> None:
        """A primary with no replica left dies: its slots are down until it returns."""
        primary, replica = self._primary_and_replica()
        replica.kill()
        time.sleep(3)  # the cluster marks the replica failed (node timeout 2 s)
        primary.kill()
        time.sleep(seconds)
        primary.start()  # its AOF has every acknowledged write
        self.heal()

    def down(self, seconds: float) -> None:
        for node in self.cluster.nodes:
            node.kill()
        time.sleep(seconds)
        self.heal()

    def cleanup(self) -> None:
        self.cluster.cleanup()


TOPOLOGIES: dict[str, type[Topology]] = {t.name: t for t in (Single, Sentinel, Cluster)}
