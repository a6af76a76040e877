"""The simulator's checks (tests/paxos_sim.py), made as the world runs:
what members apply, what acceptors hold and reveal, what reads are told,
and at the end that the healed cluster converged. ``World`` holds the
state they read."""

from __future__ import annotations

from collections import defaultdict

from coord.paxos import NOOP, Ballot
from tests.sim_member import Member

SEPARATOR = b"|"  # joins the values of a combined slot


class InvariantViolation(AssertionError):
    pass


class Invariants:
    """World's checks; ``World`` holds the state."""

    def answered(self, member: Member, request: int, index: int) -> None:
        """A member's read index for `request`: it must cover every slot
        some member applied before the read was asked for."""
        self.counts["reads answered"] += 1
        must = self.reads[request]
        if index < must:
            raise InvariantViolation(
                f"member {member.id} got read index {index} for read {request}, "
                f"but slot {must} was applied before the read began"
            )

    def _check_prefix(self, member_id: int, applied) -> None:
        n = len(applied)
        if n == 0:
            return
        if n > len(self.history):
            if list(applied[: len(self.history)]) != self.history:
                raise InvariantViolation(f"member {member_id} diverged before slot {n}")
            for value in applied[len(self.history) :]:
                self._check_proposed(value)
                self.history.append(value)
                for proposal in value.split(SEPARATOR):
                    self.unchosen.pop(proposal, None)
        elif applied[n - 1] != self.history[n - 1]:
            raise InvariantViolation(
                f"slot {n}: member {member_id} applied {applied[n - 1]!r}, "
                f"history has {self.history[n - 1]!r}"
            )

    def _check_revealed(self, member: Member) -> None:
        """After a crash: what the member told its peers is on its disk."""
        disk = member.disk
        if member.revealed > disk.promised:
            raise InvariantViolation(
                f"member {member.id} told a peer it promised {member.revealed}, "
                f"but after its crash its disk holds {disk.promised}"
            )
        revealed = member.revealed_entries
        for slot in [s for s in revealed if s < disk.log_start]:
            del revealed[slot]
        for slot, ballot in revealed.items():
            held = disk.accepted.get(slot)
            if held is None or held[0] < ballot:
                raise InvariantViolation(
                    f"member {member.id} told a peer it accepted slot {slot} in {ballot}, "
                    f"but after its crash its disk holds {held and held[0]}"
                )

    def _check_proposed(self, value: bytes) -> None:
        if value == NOOP:
            return
        for proposal in value.split(SEPARATOR):
            if proposal not in self._proposed_set:
                raise InvariantViolation(f"applied {proposal!r}, which no client proposed")

    def _check_quorum_choice(self, slot: int) -> None:
        holders: dict[tuple[Ballot, bytes], int] = defaultdict(int)
        for member in self.members.values():
            record = member.disk.accepted.get(slot)
            if record is not None:
                holders[record] += 1
        quorum = self.size // 2 + 1
        for (_, value), count in holders.items():
            if count >= quorum:
                chosen = self.quorum_chosen.setdefault(slot, value)
                if chosen != value:
                    raise InvariantViolation(f"slot {slot} chosen twice: {chosen!r} and {value!r}")

    def _check_converged(self, first_quiet: int) -> None:
        lengths = {m.id: len(m.applied) for m in self.members.values()}
        if len(set(lengths.values())) != 1:
            raise InvariantViolation(f"members did not converge: applied {lengths}")
        chosen = {p for v in self.history if v != NOOP for p in v.split(SEPARATOR)}
        lost = [v for v in self.proposed[first_quiet:] if v not in chosen]
        if lost:
            raise InvariantViolation(f"{len(lost)} proposals after healing not chosen: {lost[:3]}")
