"""The core's messages to and from coord.v1.Peer protobufs."""

from __future__ import annotations

from coord.paxos import messages as core
from coord.paxos.ballot import Ballot
from coord.wire import peer_pb2 as pb


def _ballot(b: Ballot) -> pb.Ballot:
    return pb.Ballot(round=b.round, member=b.member)


def _from_ballot(b: pb.Ballot) -> Ballot:
    return Ballot(b.round, b.member)


def encode(msg: core.Message) -> pb.PeerMessage:
    out = pb.PeerMessage(src=msg.src, dst=msg.dst)
    match msg:
        case core.Probe():
            out.probe.SetInParent()
            out.probe.round, out.probe.commit = msg.round, msg.commit
        case core.ProbeReply():
            out.probe_reply.SetInParent()
            out.probe_reply.round, out.probe_reply.granted = msg.round, msg.granted
        case core.Prepare():
            out.prepare.ballot.CopyFrom(_ballot(msg.ballot))
            out.prepare.from_slot = msg.from_slot
        case core.Promise():
            out.promise.ballot.CopyFrom(_ballot(msg.ballot))
            out.promise.entries.extend(
                pb.LogEntry(slot=e.slot, ballot=_ballot(e.ballot), value=e.value)
                for e in msg.entries
            )
            out.promise.commit, out.promise.log_start = msg.commit, msg.log_start
        case core.Reject():
            out.reject.ballot.CopyFrom(_ballot(msg.ballot))
            out.reject.promised.CopyFrom(_ballot(msg.promised))
        case core.Accept():
            accept = out.accept
            accept.ballot.CopyFrom(_ballot(msg.ballot))
            accept.start, accept.commit, accept.seq = msg.start, msg.commit, msg.seq
            accept.values.extend(msg.values)
        case core.Accepted():
            accepted = out.accepted
            accepted.ballot.CopyFrom(_ballot(msg.ballot))
            accepted.start, accepted.match, accepted.seq = msg.start, msg.match, msg.seq
        case core.Forward():
            out.forward.values.extend(msg.values)
        case core.ReadIndex():
            out.read_index.request = msg.request
            out.read_index.ballot.CopyFrom(_ballot(msg.ballot))
        case core.ReadIndexReply():
            out.read_index_reply.request = msg.request
            out.read_index_reply.index = msg.index
        case _:
            raise TypeError(f"not a peer message: {msg!r}")
    return out


def decode(m: pb.PeerMessage) -> core.Message | None:
    """A core message, or None for kinds the core does not take."""
    src, dst = m.src, m.dst
    kind = m.WhichOneof("kind")
    if kind == "accept":
        a = m.accept
        return core.Accept(
            src, dst, _from_ballot(a.ballot), a.start, tuple(a.values), a.commit, a.seq
        )
    if kind == "accepted":
        a = m.accepted
        return core.Accepted(src, dst, _from_ballot(a.ballot), a.start, a.match, a.seq)
    if kind == "probe":
        return core.Probe(src, dst, m.probe.round, m.probe.commit)
    if kind == "probe_reply":
        return core.ProbeReply(src, dst, m.probe_reply.round, m.probe_reply.granted)
    if kind == "prepare":
        return core.Prepare(src, dst, _from_ballot(m.prepare.ballot), m.prepare.from_slot)
    if kind == "promise":
        p = m.promise
        entries = tuple(core.Entry(e.slot, _from_ballot(e.ballot), e.value) for e in p.entries)
        return core.Promise(src, dst, _from_ballot(p.ballot), entries, p.commit, p.log_start)
    if kind == "reject":
        return core.Reject(src, dst, _from_ballot(m.reject.ballot), _from_ballot(m.reject.promised))
    if kind == "forward":
        return core.Forward(src, dst, tuple(m.forward.values))
    if kind == "read_index":
        return core.ReadIndex(src, dst, m.read_index.request, _from_ballot(m.read_index.ballot))
    if kind == "read_index_reply":
        return core.ReadIndexReply(src, dst, m.read_index_reply.request, m.read_index_reply.index)
    return None
