"""Ballots and quorums."""

from __future__ import annotations

from typing import NamedTuple


class Ballot(NamedTuple):
    """(round, member): ordered by round, ties broken by member, so no two
    proposers ever use the same ballot."""

    round: int
    member: int

    def __str__(self) -> str:
        return f"{self.round}.{self.member}"


ZERO = Ballot(0, 0)


def quorum(members: int) -> int:
    return members // 2 + 1
