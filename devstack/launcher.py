"""Start ``python -m devstack.run`` in a subprocess on free loopback ports, for tests and benchmarks.

    with running_local_stack() as stack:
        urllib.request.urlopen(f"{stack.api_url}/health")

The stack is the one ``make run`` starts (moto server, ``chalice local``, the pump, the provider
sandbox). Its output is drained on a thread from the first line on, so the pipe never fills and
blocks it; the last lines are kept for the error raised when it exits or does not become ready.
Stopping sends SIGTERM (the stack stops its pump, ``chalice local``, moto and the sandbox), then
SIGKILL if it has not exited within the grace period.
"""

from __future__ import annotations

import collections
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READY_LINE = "ready"
TAIL_LINES = 40
STOP_GRACE_SECONDS = 20.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 at the time of the call."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True, slots=True)
class LocalStackUrls:
    api_url: str
    aws_url: str
    sandbox_url: str
    env: dict[str, str] = field(default_factory=dict)  # the environment the stack was started with


class _OutputDrain:
    """Reads the stack's output to the end on a daemon thread: keeps the tail, signals the ready line."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self._stdout = process.stdout
        self._lock = threading.Lock()
        self._tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self.ready = threading.Event()
        self.finished = threading.Event()
        self._thread = threading.Thread(target=self._read, name="local-stack-output", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for line in self._stdout:
                with self._lock:
                    self._tail.append(line)
                if not self.ready.is_set() and line.strip() == READY_LINE:
                    self.ready.set()
        except (OSError, ValueError):
            pass  # the pipe was closed under us while stopping
        finally:
            self.finished.set()

    def tail(self) -> str:
        with self._lock:
            return "".join(self._tail)

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


def _clean_environment(extra: Mapping[str, str] | None) -> dict[str, str]:
    """This process's environment, plus ``extra``, without what would point the stack elsewhere.

    Dropped unless ``extra`` gives them: AWS_/OMNIHUB_ variables (the stack sets its own),
    ``PUBLIC_BASE_URL`` (providers sign against it: it must be this stack's free port) and every
    development secret's name (a provider token exported in the shell would silently replace the
    development value the simulators sign with).
    """
    from devstack.run import DEV_SECRETS

    dropped = {"PUBLIC_BASE_URL", *DEV_SECRETS}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OMNIHUB_")) and k not in dropped}
    env.update(extra or {})
    return env


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextlib.contextmanager
def running_local_stack(
    *, quiet: bool = True, env: Mapping[str, str] | None = None, ready_timeout: float = 90
) -> Iterator[LocalStackUrls]:
    """Run the local stack until the block exits; ``env`` adds to (or overrides) the inherited environment.

    Raises RuntimeError with the stack's last output lines if it exits before printing ``ready``
    or does not print it within ``ready_timeout`` seconds.
    """
    api_port, aws_port, sandbox_port = free_port(), free_port(), free_port()
    environment = _clean_environment(env)
    command = [
        sys.executable, "-m", "devstack.run",
        "--api-port", str(api_port), "--aws-port", str(aws_port), "--sandbox-port", str(sandbox_port),
    ]
    if quiet:
        command.append("--quiet")
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    drain = _OutputDrain(process)
    try:
        deadline = time.monotonic() + ready_timeout
        while not drain.ready.wait(0.2):
            if process.poll() is not None:
                drain.join(timeout=5)  # the rest of what it printed before exiting
                raise RuntimeError(
                    f"the local stack exited with status {process.returncode} before it was ready:\n" + drain.tail()
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"the local stack was not ready within {ready_timeout} s:\n" + drain.tail())
        yield LocalStackUrls(
            api_url=f"http://127.0.0.1:{api_port}",
            aws_url=f"http://127.0.0.1:{aws_port}",
            sandbox_url=f"http://127.0.0.1:{sandbox_port}",
            env=environment,
        )
    finally:
        _stop(process)
        drain.join(timeout=5)
        if drain.finished.is_set() and process.stdout is not None:
            process.stdout.close()  # else a lingering grandchild still holds the pipe: the daemon thread keeps it


__all__ = ["LocalStackUrls", "free_port", "running_local_stack"]
