"""The fault schedule of a run, drawn up front from the seed alone.

Everything random about the faults (which kind, when, how long, which
members, links, rates and clock offsets) comes from `random.Random(seed)`
before the cluster starts, so `--seed N` with the same flags injects the same
faults at the same offsets; only the cluster's own timing differs between
runs. Network and clock faults overlap freely and are composed per member;
at most f members (of 2f+1) are killed or paused at any one time, so the
cluster can always make progress once the network allows it.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import permutations

PROCESS_KINDS = ("kill", "pause")
NETWORK_KINDS = ("partition", "one-way", "drop", "delay")
CLOCK_KINDS = ("clock-skew", "clock-rate")
FAULT_KINDS = (*PROCESS_KINDS, "client-kill", *NETWORK_KINDS, *CLOCK_KINDS)
# How often each kind is drawn, relative to the others.
WEIGHTS = {
    "kill": 3,
    "pause": 2,
    "client-kill": 2,
    "partition": 3,
    "one-way": 2,
    "drop": 1,
    "delay": 1,
    "clock-skew": 1,
    "clock-rate": 1,
}
FIRST_FAULT = (1.0, 3.0)  # seconds into the run: the first fault starts in this range
GAP = (1.5, 5.0)  # seconds between the starts of successive faults
LASTS = (2.0, 8.0)  # seconds a kill, network or clock fault lasts
PAUSE_EXTRA = (0.5, 4.0)  # seconds a pause outlasts the election and session timeouts

Link = tuple[int, int]  # (from, to): the direction messages travel


@dataclass(frozen=True)
class Fault:
    """One fault: what, on which members or links, from `start` to `end`
    (seconds into the run; equal for a client kill, which is instantaneous)."""

    kind: str
    start: float
    end: float
    members: tuple[int, ...] = ()  # killed, paused or clock-distorted members
    links: tuple[Link, ...] = ()  # links blocked (partition, one-way), lossy or slow
    drop: float = 0.0
    delay_ms: int = 0
    clock_offset_s: float = 0.0
    clock_rate: float = 1.0
    client: int = -1  # the client slot a client kill hits

    def describe(self) -> str:
        """One line for the run's log and report."""
        what = {
            "kill": lambda: f"SIGKILL member {self.members[0]}, restart after",
            "pause": lambda: f"SIGSTOP member {self.members[0]}, SIGCONT after",
            "client-kill": lambda: f"SIGKILL client {self.client} and replace it",
            "partition": lambda: f"block both ways {_links(self.links)}",
            "one-way": lambda: f"block one way {_links(self.links)}",
            "drop": lambda: f"drop {self.drop:.0%} on {_links(self.links)}",
            "delay": lambda: f"delay up to {self.delay_ms} ms on {_links(self.links)}",
            "clock-skew": lambda: (
                f"clock of member {self.members[0]} jumps {self.clock_offset_s:+.1f}s, back after"
            ),
            "clock-rate": lambda: (
                f"clock of member {self.members[0]} runs at {self.clock_rate:.2f}x, restored after"
            ),
        }[self.kind]()
        lasts = "" if self.kind == "client-kill" else f" {self.end - self.start:.1f}s"
        return f"t={self.start:6.1f}s {self.kind:<11} {what}{lasts}"


def _links(links: Iterable[Link]) -> str:
    return " ".join(f"{a}->{b}" for a, b in links)


@dataclass(frozen=True)
class MemberFaults:
    """What one member's Admin.SetFaults must say: its outgoing links as
    (peer, blocked, drop, delay_ms), and its clock. Comparable, so the run
    only calls SetFaults when this changes."""

    links: tuple[tuple[int, bool, float, int], ...] = ()
    clock_offset_s: float = 0.0
    clock_rate: float = 1.0


def make_schedule(
    seed: int,
    size: int,
    duration: float,
    clients: int,
    pause_floor: float,
    kinds: Iterable[str] = FAULT_KINDS,
) -> list[Fault]:
    """Every fault of a run, in start order. `pause_floor` is the longer of
    the election timeout's upper end and the session timeout: pauses outlast it."""
    rng = random.Random(seed)
    members = list(range(1, size + 1))
    most_down = (size - 1) // 2
    wanted = set(kinds)
    drawn = [k for k in FAULT_KINDS if k in wanted and (k != "client-kill" or clients)]
    weights = [WEIGHTS[k] for k in drawn]
    faults: list[Fault] = []
    t = rng.uniform(*FIRST_FAULT)
    while drawn and t < duration:
        active = [f for f in faults if f.start <= t < f.end]
        down = {m for f in active if f.kind in PROCESS_KINDS for m in f.members}
        skewed = {m for f in active if f.kind in CLOCK_KINDS for m in f.members}
        kind = rng.choices(drawn, weights)[0]
        lasts = rng.uniform(*LASTS)
        end = min(t + lasts, duration)
        if kind in PROCESS_KINDS:
            up = [m for m in members if m not in down]
            if len(down) < most_down:
                if kind == "pause":
                    end = min(t + pause_floor + rng.uniform(*PAUSE_EXTRA), duration)
                faults.append(Fault(kind, t, end, members=(rng.choice(up),)))
        elif kind == "client-kill":
            faults.append(Fault(kind, t, t, client=rng.randrange(clients)))
        elif kind in CLOCK_KINDS:
            free = [m for m in members if m not in skewed]
            if free:
                member = rng.choice(free)
                if kind == "clock-skew":
                    offset = rng.choice((-1, 1)) * rng.uniform(0.5, 30.0)
                    faults.append(Fault(kind, t, end, members=(member,), clock_offset_s=offset))
                else:
                    rate = rng.uniform(0.5, 2.0)
                    faults.append(Fault(kind, t, end, members=(member,), clock_rate=rate))
        else:
            faults.append(_network_fault(rng, kind, t, end, members))
        t += rng.uniform(*GAP)
    return faults


def _network_fault(
    rng: random.Random, kind: str, t: float, end: float, members: list[int]
) -> Fault:
    if kind == "partition":  # two-way: a random minority cut off from the rest
        minority = set(rng.sample(members, rng.randint(1, (len(members) - 1) // 2)))
        links = tuple(
            (a, b) for a, b in permutations(members, 2) if (a in minority) != (b in minority)
        )
        return Fault(kind, t, end, links=links)
    if kind == "one-way":  # a member that cannot send, cannot hear, or one dead link
        member = rng.choice(members)
        others = [m for m in members if m != member]
        shape = rng.choice(("mute", "deaf", "link"))
        if shape == "mute":
            links = tuple((member, m) for m in others)
        elif shape == "deaf":
            links = tuple((m, member) for m in others)
        else:
            links = ((member, rng.choice(others)),)
        return Fault(kind, t, end, links=links)
    every = list(permutations(members, 2))
    links = tuple(link for link in every if rng.random() < 0.5) or (rng.choice(every),)
    if kind == "drop":
        return Fault(kind, t, end, links=links, drop=round(rng.uniform(0.1, 0.6), 2))
    return Fault(kind, t, end, links=links, delay_ms=rng.randint(20, 400))


def member_faults(active: Iterable[Fault], size: int) -> dict[int, MemberFaults]:
    """Compose the network and clock faults in force into each member's
    settings: a link is blocked if any fault blocks it, and takes the highest
    drop rate and delay of the faults on it."""
    links: dict[Link, tuple[bool, float, int]] = {}
    clocks: dict[int, tuple[float, float]] = {}
    for fault in active:
        if fault.kind in CLOCK_KINDS:
            clocks[fault.members[0]] = (fault.clock_offset_s, fault.clock_rate)
        for link in fault.links:
            blocked, drop, delay = links.get(link, (False, 0.0, 0))
            links[link] = (
                blocked or fault.kind in ("partition", "one-way"),
                max(drop, fault.drop),
                max(delay, fault.delay_ms),
            )
    return {
        member: MemberFaults(
            links=tuple(
                (peer, *links[(src, peer)]) for src, peer in sorted(links) if src == member
            ),
            clock_offset_s=clocks.get(member, (0.0, 1.0))[0],
            clock_rate=clocks.get(member, (0.0, 1.0))[1],
        )
        for member in range(1, size + 1)
    }
