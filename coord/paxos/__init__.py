"""A sans-I/O Multi-Paxos core.

``Node`` takes inputs (a message, a tick with the current time, a proposal)
and hands back ``Ready`` batches: records to persist, messages to send once
they are persisted, and values chosen, in slot order. It never touches a
socket, a disk or a clock, so the same code runs under the gRPC runtime and
under the deterministic simulator in the tests.
"""

from coord.paxos.ballot import ZERO, Ballot, quorum
from coord.paxos.config import Config
from coord.paxos.elections import Role
from coord.paxos.messages import Message
from coord.paxos.node import Node
from coord.paxos.proposer import NOOP
from coord.paxos.ready import Ready

__all__ = ["NOOP", "ZERO", "Ballot", "Config", "Message", "Node", "Ready", "Role", "quorum"]
