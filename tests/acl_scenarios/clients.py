"""The sessions a scenario opens (`Target`), the credentials it uses, the
watch callback that keeps events, and small calls both clients answer alike."""

from __future__ import annotations

import queue
from collections.abc import Callable
from types import ModuleType
from typing import Any

ALICE, BOB, SUPER = "alice:secret", "bob:pw", "super:test"  # digest credentials
EVENT_TIMEOUT = 30.0  # seconds: a failure bound, never a pass condition


def listed(client: Any, path: str) -> list[str]:
    """get_children, sorted: ZooKeeper lists children in no set order."""
    return sorted(client.get_children(path))


def acl_of(client: Any, path: str) -> list:
    """get_acls without its Stat."""
    return client.get_acls(path)[0]


def succeeded(call: Callable[..., Any]) -> Callable[..., str]:
    """`call` giving "done" for any value: for calls whose success kazoo and
    coord_client return differently (ensure_path: the path or True; a
    recursive delete: None or True; add_watch)."""

    def run(*args: Any, **kwargs: Any) -> str:
        call(*args, **kwargs)
        return "done"

    return run


class Target:
    """Opens sessions with one system through its kazoo-compatible client;
    over mutual TLS, `certs` names the client certificates (certfile and
    keyfile options by name)."""

    def __init__(
        self,
        kind: str,
        make: Callable[..., Any],
        security: ModuleType,
        certs: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.kind, self.make, self.security = kind, make, security
        self.certs = certs or {}
        self.clients: list[Any] = []

    def __call__(self, *credentials: str, **options: Any) -> Any:
        auth = [("digest", credential) for credential in credentials]
        client = self.make(auth_data=auth, **options)
        self.clients.append(client)
        client.start(timeout=30)
        return client

    def close(self) -> None:
        for client in self.clients:
            client.stop()
            client.close()
        self.clients.clear()


class Events:
    """A watch callback that keeps (type, path) of each event, in order."""

    def __init__(self) -> None:
        self.queue: queue.Queue[tuple[str, str]] = queue.Queue()

    def __call__(self, event: Any) -> None:
        self.queue.put((str(event.type), event.path))

    def drain(self) -> list[tuple[str, str]]:
        """The events received so far (call after another watch's `until`: a
        session's callbacks run one at a time, in commit order)."""
        seen = []
        while not self.queue.empty():
            seen.append(self.queue.get())
        return seen

    def until(self, path: str) -> list[tuple[str, str]]:
        """The events before the first one on `path`: a sentinel changed after
        the changes under test, since a session gets events in commit order."""
        seen = []
        while (event := self.queue.get(timeout=EVENT_TIMEOUT))[1] != path:
            seen.append(event)
        return seen


def owned_by(s: ModuleType, **perms: bool) -> list:
    """An ACL granting alice everything and anyone the given permissions."""
    acl = [s.make_digest_acl("alice", "secret", all=True)]
    if perms:
        acl.append(s.make_acl("world", "anyone", **perms))
    return acl
