"""What a scenario's steps gave, recorded in a form kazoo and coord_client
give alike, and the steps where coord differs from the ZooKeeper tested by
design (`Recorder.differs`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Node:
    """The parts of a Stat that do not depend on zxids or clocks."""

    version: int
    aversion: int
    cversion: int
    data_length: int
    children: int
    ephemeral: bool


def shown(value: Any) -> Any:
    """`value` in a form both clients give alike: exceptions by class name,
    Stats as Node, ACLs as (perms, scheme, id), sequences element-wise."""
    if isinstance(value, BaseException):
        return type(value).__name__
    if hasattr(value, "aversion") and hasattr(value, "ephemeralOwner"):
        return Node(
            value.version, value.aversion, value.cversion,
            value.dataLength, value.numChildren, value.ephemeralOwner != 0,
        )  # fmt: skip
    if hasattr(value, "perms") and hasattr(value, "id"):
        return (value.perms, value.id.scheme, value.id.id)
    if isinstance(value, list | tuple):
        return [shown(item) for item in value]
    return value


@dataclass(frozen=True)
class Differs:
    """A step where coord deliberately differs from the ZooKeeper tested."""

    zookeeper: Any
    coord: Any
    why: str
    # What kazoo gets through coord's ZooKeeper door, where it is neither
    # (a server rule seen through a kazoo call that coord_client makes
    # otherwise); by default ZooKeeper's for CLIENT_RULES, coord's for others.
    door: Any = None


# exists needs READ on an existing node in ZooKeeper 3.9.2 and 3.8.4
# (ZOOKEEPER-2590); coord follows that rule, Debian's 3.8.0 predates it.
EXISTS_NEEDS_READ = "exists needs READ on an existing node (ZOOKEEPER-2590, 3.8.4/3.9.2)"
# coord_client refuses an empty ACL list before sending it; kazoo's create
# takes it for the default ACL (open unless default_acl says otherwise), and
# its transaction sends it for the server to refuse at commit.
EMPTY_ACL_REFUSED = "coord_client refuses acl=[] at once (coord's rule)"
# coord_client's start returns once auth_data is proven, and stops the client
# when a credential is refused; kazoo's returns once connected.
START_PROVES_AUTH = "coord_client's start proves auth_data (coord_client's rule)"
# coord refuses permission bits outside ALL; ZooKeeper stores any int.
PERMS_WITHIN_ALL = "permissions outside READ..ADMIN are refused (coord's rule)"
# coord takes IPv6 ip ids, as ZooKeeper does from 3.9.4 (ZOOKEEPER-4240).
IPV6_IDS = "ip ids may be IPv6 (ZOOKEEPER-4240, 3.9.4)"
# coord refuses a persistent watch on a node its session may not read; no
# ZooKeeper does (up to 3.9.x, ZOOKEEPER-4799 included): it accepts the
# watch and filters each event by READ instead.
ADD_WATCH_NEEDS_READ = "add_watch needs READ on an existing path (coord's rule)"


# The rules above that are coord_client's, not the server's: kazoo on coord's
# ZooKeeper door gives ZooKeeper's outcome there, and coord's elsewhere.
CLIENT_RULES = frozenset({EMPTY_ACL_REFUSED, START_PROVES_AUTH})


@dataclass
class Recorder:
    """The outcome of every step of one scenario on one target, in order."""

    kind: str  # "zookeeper", "coord" or "zk door" (kazoo on coord's ZooKeeper door)
    steps: list[tuple[str, Any]] = field(default_factory=list)

    def __call__(self, label: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run and record one step; its raw value, or None when it raised."""
        try:
            value = call(*args, **kwargs)
        except Exception as error:
            self.steps.append((label, shown(error)))
            return None
        self.steps.append((label, shown(value)))
        return value

    def differs(
        self, label: str, expected: Differs, call: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> None:
        """Run a step whose outcome differs by design, recording that it gave
        what this target is expected to give (else what it gave instead)."""
        self(label, call, *args, **kwargs)
        label, outcome = self.steps.pop()
        if self.kind == "zk door" and expected.door is not None:
            wanted = shown(expected.door)
        elif self.kind == "zk door":
            by_client = expected.why in CLIENT_RULES
            wanted = shown(expected.zookeeper if by_client else expected.coord)
        else:
            wanted = shown(getattr(expected, self.kind))
        if outcome == wanted:
            self.steps.append((label, f"differs by design: {expected.why}"))
        else:
            self.steps.append((label, f"{outcome!r}, not the expected {wanted!r}"))

    def note(self, label: str, value: Any) -> None:
        """Record a value the scenario computed itself (events seen, say)."""
        self.steps.append((label, shown(value)))
