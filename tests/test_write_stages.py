"""The stages one write crosses on a quiet 3-member cluster, traced
(Admin.Trace) on every member: exactly these, each once, in their causal
order; never their timing. A change that adds a hop to a write's path (a
second forward, another round to the leader, a message or a disk write more)
or drops one shows here as a stage too many or missing.

Each member's expected stages are chains: every stage in a chain comes after
the one before it; chains may interleave (what two threads or two members do
meanwhile). "@X" is a peer message's other end: L the leader, F the follower
the client is on, F1/F2 the other followers.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import Cluster
from tests.stage_trace import stages, trace_writes

Chains = list[list[str]]


def follower_accepts(me: str) -> Chains:
    """A follower's part: accept, persist, vote (to the leader, and to itself
    once durable); learn the slot chosen from its own vote and the leader's
    (which comes after the Accept on the same link), or, should a heartbeat
    come first, from the commit point it carries; apply."""
    return [
        ["accept_in@L", "persist", "fsync_start", "fsync_end", "accepted_queued@L",
         "accepted_written@L"],
        ["fsync_end", f"accepted_queued@{me}", f"accepted_in@{me}"],
        ["accept_in@L", "accepted_in@L"],
        ["accept_in@L", "chosen", "apply"],
    ]  # fmt: skip


def leader_replicates(start: str, followers: list[str]) -> Chains:
    """The leader's part from `start` (the write batched there, or forwarded
    to it), whoever took the write: accept it (its own accept is a message to
    itself), have it accepted, learn it chosen; its own vote, once durable,
    goes to every follower too. The accepts to the members are one Ready's
    messages, queued in the order of member ids, so no order among them is
    expected."""
    chains = [
        [start, "accept_queued@L", "accept_in@L", "persist", "fsync_start", "fsync_end",
         "accepted_queued@L", "accepted_in@L"],
        ["chosen", "apply"],
    ]  # fmt: skip
    for f in followers:
        chains.append([start, f"accept_queued@{f}", f"accept_written@{f}"])
        chains.append([f"accept_written@{f}", f"accepted_in@{f}"])
        chains.append(["fsync_end", f"accepted_queued@{f}", f"accepted_written@{f}"])
    return chains


ON_THE_LEADER: dict[str, Chains] = {
    "client": [["client_send", "client_receive"]],
    "L": [
        ["receive", "batch"],
        *leader_replicates("batch", ["F1", "F2"]),
        ["apply", "respond", "write", "written"],
    ],
    "F1": follower_accepts("F1"),
    "F2": follower_accepts("F2"),
}

ON_A_FOLLOWER: dict[str, Chains] = {
    "client": [["client_send", "client_receive"]],
    "F": [
        ["receive", "batch", "forward_queued@L", "forward_written@L", "accept_in@L"],
        *follower_accepts("F"),
        ["apply", "respond", "write", "written"],
    ],
    "L": leader_replicates("forward_in@F", ["F", "F1"]),
    "F1": follower_accepts("F1"),
}


def mismatch(seen: list[str], chains: Chains) -> str | None:
    """Why `seen` (one member's stages in time order) is not exactly the
    chains' stages, each once, each chain in order; None if it is."""
    expected = sorted({stage for chain in chains for stage in chain})
    if sorted(seen) != expected:
        extra = sorted((set(seen) - set(expected)) | {s for s in seen if seen.count(s) > 1})
        missing = sorted(set(expected) - set(seen))
        return f"stages {seen}: not expected {extra}, missing {missing}"
    for chain in chains:
        order = [seen.index(stage) for stage in chain]
        if order != sorted(order):
            return f"stages {seen}: {chain} out of order"
    return None


def write_mismatches(write, expected: dict[str, Chains]) -> list[str]:
    """Every member's (and the client's) mismatch, and marks from anyone
    not expected to take part."""
    whos = {label.split(":")[0] for _, label in write}
    problems = [f"{who}: marks from a member not on the path" for who in whos - set(expected)]
    for who, chains in expected.items():
        problem = mismatch(stages(write, who), chains)
        if problem is not None:
            problems.append(f"{who}: {problem}")
    return problems


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    """Production timeouts: a quiet cluster keeps its leader."""
    cluster = Cluster.create(tmp_path_factory.mktemp("stages"), 3, timeouts=[])
    try:
        cluster.start()
        cluster.leader()
        yield cluster
    finally:
        cluster.stop()


@pytest.mark.parametrize("where", ["leader", "follower"])
def test_a_write_crosses_exactly_its_stages(cluster, where):
    leader = cluster.leader()
    home = leader if where == "leader" else min(i for i in cluster.members if i != leader)
    traced = trace_writes(cluster, home, 3)
    assert len(traced.writes) == 3
    expected = ON_THE_LEADER if where == "leader" else ON_A_FOLLOWER
    for write in traced.writes:
        assert write_mismatches(write, expected) == []


def test_the_check_sees_a_stage_added_dropped_or_reordered():
    chains = ON_A_FOLLOWER["F"]
    good = ["receive", "batch", "forward_queued@L", "forward_written@L", "accept_in@L",
            "persist", "fsync_start", "fsync_end", "accepted_queued@L", "accepted_written@L",
            "accepted_queued@F", "accepted_in@F", "accepted_in@L", "chosen", "apply",
            "respond", "write", "written"]  # fmt: skip
    assert mismatch(good, chains) is None
    twice = good[:4] + ["forward_queued@L", "forward_written@L"] + good[4:]
    assert "not expected ['forward_queued@L', 'forward_written@L']" in mismatch(twice, chains)
    assert "missing ['batch']" in mismatch([s for s in good if s != "batch"], chains)
    swapped = good[:6] + ["fsync_end", "fsync_start"] + good[8:]
    assert "out of order" in mismatch(swapped, chains)
