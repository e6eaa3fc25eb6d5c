"""Private ``redis-server`` processes on free ports, for tests that break,
pause, restart or cluster a server. Never touches a server it did not start."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis

REDIS_SERVER = shutil.which("redis-server")

#: Whether the running test is marked ``servers`` (conftest.py sets it before
#: each test; True outside pytest, as for the benchmark). A test that starts
#: a private server without the mark fails, so that ``-m "not servers"``
#: never needs one.
marked = True


def require_redis_server() -> str:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not on the PATH; private-server tests need it")
    return REDIS_SERVER


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One private redis-server; ``start()``/``stop()`` may be repeated."""

    def __init__(self, *extra: str, port: int | None = None) -> None:
        self.binary = require_redis_server()
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="redistoken-test-"))
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5)

    def start(self) -> RedisServer:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
        args += ["--save", "", "--appendonly", "no", "--enable-debug-command", "local", *self.extra]
        return self._launch(args)

    def _launch(self, args: list[str]) -> RedisServer:
        """Start the process and wait until it answers PING."""
        if not marked:
            pytest.fail("this test starts a private redis-server: mark it @pytest.mark.servers")
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return self
            except redis.exceptions.RedisError:
                time.sleep(0.05)
        raise RuntimeError(f"{args[0]} on port {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last fsync; ``start()`` replays what the AOF has."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def pause(self) -> None:
        """SIGSTOP: the sockets stay open and nothing answers."""
        if self.process is not None:
            self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


REDIS_CLI = shutil.which("redis-cli")


class RedisClusterServers:
    """A private Redis Cluster of ``size`` primaries, each with ``replicas``
    replicas, built with ``redis-cli --cluster create`` on free ports; cluster
    mode has only db 0. ``extra`` are more redis-server options of every node."""

    def __init__(self, size: int = 3, *extra: str, replicas: int = 0) -> None:
        if REDIS_CLI is None:
            pytest.skip("redis-cli is not on the PATH; the Redis Cluster tests need it")
        self.replicas = replicas
        self.nodes = [
            # The bus port defaults to port + 10000, which may not exist: pick one.
            RedisServer(
                *("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"),
                *("--cluster-node-timeout", "2000", "--cluster-port", str(free_port())),
                *extra,
            )
            for _ in range(size * (1 + replicas))
        ]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.nodes[0].port}/0"

    def start(self) -> RedisClusterServers:
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        subprocess.run(
            [
                str(REDIS_CLI),
                "--cluster",
                "create",
                *addresses,
                "--cluster-replicas",
                str(self.replicas),
                "--cluster-yes",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            known = b"cluster_known_nodes:%d" % len(self.nodes)
            infos = [node.client().execute_command("CLUSTER", "INFO") for node in self.nodes]
            if all(b"cluster_state:ok" in info and known in info for info in infos) and self.replicas_linked():
                return self
            time.sleep(0.1)
        raise RuntimeError("the private Redis Cluster did not reach cluster_state:ok")

    def replicas_linked(self) -> bool:
        roles = [node.client().info("replication") for node in self.nodes]
        linked = [role for role in roles if role["role"] == "slave" and role["master_link_status"] == "up"]
        return len(linked) == len(self.nodes) - len(self.nodes) // (1 + self.replicas)

    def cleanup(self) -> None:
        for node in self.nodes:
            node.cleanup()


class SentinelServer(RedisServer):
    """A private Sentinel watching ``primary`` as ``mymaster``, with short
    timeouts so that a failover takes a second or two."""

    SERVICE = "mymaster"

    def __init__(self, primary: RedisServer, quorum: int = 1) -> None:
        super().__init__()
        self.config = self.dir / "sentinel.conf"
        self.config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\n"
            f"sentinel monitor {self.SERVICE} 127.0.0.1 {primary.port} {quorum}\n"
            f"sentinel down-after-milliseconds {self.SERVICE} 1000\n"
            f"sentinel failover-timeout {self.SERVICE} 5000\n"
        )

    def start(self) -> SentinelServer:
        self._launch([self.binary, str(self.config), "--sentinel"])
        return self
