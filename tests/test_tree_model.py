"""The znode tree against a tiny independent model, under random commands.

The model is a dict path -> node written from ZooKeeper's rules alone. Random creates
(ephemeral, sequential, make-parents), sets and deletes with right and wrong
versions, recursive deletes, multis, retried writes and session
open/close/expire run over a small path alphabet, so collisions, non-empty
deletes and ephemeral parents happen often. After every step the tree must
hold exactly the model's nodes.

Where ZooKeeper does not order two refusals (a set that is both too large and
of the wrong version), the model accepts any code that applies.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from coord.outcome import Applied
from coord.tree import Tree
from coord.wire import log_pb2
from coord_api.wire import client_pb2 as pb

Code = pb.ErrorCode
LIMIT = 3  # max_data_bytes: data of up to LIMIT + 1 bytes crosses it
INVALID = ["/a/", "/coord", "/coord/a"]  # refused with BAD_ARGUMENTS
# Each refusal is likely enough to happen, rare enough that trees still grow.
SOMETIMES = st.sampled_from([False, False, True])
FLAGS = {"ephemeral": st.booleans(), "sequential": SOMETIMES, "make_parents": SOMETIMES}
DATA = st.sampled_from([b"", b"d", b"da", b"dat", b"data"])  # the last is over LIMIT
# Node commands outnumber session events, so trees grow between them.
STEPS = st.sampled_from(["create"] * 3 + ["change"] * 2 + ["multi", "retry", "open", "end"])
ALPHABET = ["/a", "/b", "/a/a", "/a/b", "/b/a", "/a/a/b", "/a/b/a", "/c/a/b"] + INVALID


class Refused(Exception):
    """The model refuses: any of `codes` is a right answer."""

    def __init__(self, *codes: int) -> None:
        super().__init__(codes)
        self.codes = set(codes)


@dataclass
class Node:
    data: bytes
    version: int = 0
    owner: int = 0
    created: int = 0  # children ever created: the next sequential suffix
    cversion: int = 0  # children created and deleted


def parent_of(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


class Model:
    """The tree as ZooKeeper's rules describe it: nodes by path, and live sessions."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {"/": Node(b"")}
        self.sessions: set[int] = set()

    def children(self, path: str) -> list[str]:
        return sorted(p.rsplit("/", 1)[1] for p in self.nodes if p != "/" and parent_of(p) == path)

    def existing(self, path: str) -> Node:
        if path in INVALID:
            raise Refused(Code.BAD_ARGUMENTS)
        if path not in self.nodes:
            raise Refused(Code.NO_NODE)
        return self.nodes[path]

    def _add(self, path: str, node: Node) -> None:
        self.nodes[path] = node
        parent = self.nodes[parent_of(path)]
        parent.created += 1
        parent.cversion += 1

    def _remove(self, path: str) -> None:
        del self.nodes[path]
        self.nodes[parent_of(path)].cversion += 1

    def create(self, op: pb.CreateRequest, session: int) -> str:
        """The created path."""
        if op.path in INVALID:
            raise Refused(Code.BAD_ARGUMENTS)
        errors = set()
        if len(op.data) > LIMIT:
            errors.add(Code.DATA_TOO_LARGE)
        if op.ephemeral and not session:
            errors.add(Code.BAD_ARGUMENTS)
        missing, ancestor = [], parent_of(op.path)
        while ancestor not in self.nodes:
            missing.insert(0, ancestor)
            ancestor = parent_of(ancestor)
        if missing and not op.make_parents:
            errors.add(Code.NO_NODE)
        elif self.nodes[ancestor].owner:
            errors.add(Code.NO_CHILDREN_FOR_EPHEMERALS)
        counter = 0 if missing else self.nodes[ancestor].created
        path = f"{op.path}{counter:010d}" if op.sequential else op.path
        if path in self.nodes:
            errors.add(Code.NODE_EXISTS)
        if errors:
            raise Refused(*errors)
        for ancestor in missing:
            self._add(ancestor, Node(b""))
        self._add(path, Node(op.data, owner=session if op.ephemeral else 0))
        return path

    def set_data(self, op: pb.SetDataRequest) -> None:
        node = self.existing(op.path)
        errors = set()
        if len(op.data) > LIMIT:
            errors.add(Code.DATA_TOO_LARGE)
        if op.HasField("version") and op.version not in (-1, node.version):
            errors.add(Code.BAD_VERSION)
        if errors:
            raise Refused(*errors)
        node.data = op.data
        node.version += 1

    def delete(self, op: pb.DeleteRequest) -> None:
        node = self.existing(op.path)
        errors = set()
        if op.HasField("version") and op.version not in (-1, node.version):
            errors.add(Code.BAD_VERSION)
        if self.children(op.path) and not op.recursive:
            errors.add(Code.NOT_EMPTY)
        if errors:
            raise Refused(*errors)
        for path in [p for p in self.nodes if p.startswith(op.path + "/")]:
            del self.nodes[path]
        self._remove(op.path)

    def check(self, op: pb.CheckRequest) -> None:
        if op.path.startswith("/coord"):  # reads of the reserved subtree find nothing
            raise Refused(Code.BAD_ARGUMENTS, Code.NO_NODE)
        if op.version not in (-1, self.existing(op.path).version):
            raise Refused(Code.BAD_VERSION)

    def run(self, op: pb.Op, session: int) -> str | None:
        """One op of a command; the created path for a create."""
        kind = op.WhichOneof("op")
        if kind == "create":
            return self.create(op.create, session)
        getattr(self, kind)(getattr(op, kind))
        return None

    def end_session(self, session: int) -> None:
        for path in [p for p, node in self.nodes.items() if node.owner == session]:
            self._remove(path)
        self.sessions.remove(session)


def command(session: int, **fields) -> log_pb2.Command:
    return log_pb2.Command(session_id=session, **fields)


class TreeMachine(RuleBasedStateMachine):
    """One rule that picks a step, rather than a rule per step: Hypothesis
    runs each example with a random subset of rules enabled, and with
    separate rules most examples never mixed sessions with ephemerals."""

    def __init__(self) -> None:
        super().__init__()
        self.tree = Tree(max_data_bytes=LIMIT)
        self.model = Model()
        self.ended: set[int] = set()
        # A live session's latest write and its reply, to retry.
        self.last_write: dict[int, tuple[log_pb2.Command, object]] = {}

    def apply(self, cmd: log_pb2.Command) -> Applied:
        zxid = self.tree.zxid + 1
        return self.tree.apply(zxid, 10 * zxid, cmd)

    def write(self, session: int, **op) -> Applied:
        """A live session's writes carry an xid and name their predecessor,
        as the session stream sends them."""
        if session not in self.model.sessions:
            return self.apply(command(session, **op))
        previous = self.last_write[session][0].xid if session in self.last_write else 0
        cmd = command(session, xid=previous + 1, prev_xid=previous, **op)
        applied = self.apply(cmd)
        self.last_write[session] = (cmd, applied.result)
        return applied

    # --------------------------------------------------------- strategies

    def paths(self, kind: str) -> st.SearchStrategy[str]:
        """The alphabet, existing nodes (sequential names included) and, for
        a create, children and grandchildren of them: as the tree grows, ops
        land more often, and make-parents meets ephemerals."""
        existing = sorted(self.model.nodes.keys() - {"/"})
        if kind == "create":
            existing += [path + tail for path in existing for tail in ("/a", "/a/b")]
        return st.sampled_from(ALPHABET + existing)

    def version(self, path: str) -> st.SearchStrategy[int | None]:
        node = self.model.nodes.get(path)
        right = node.version if node else 0
        return st.sampled_from([None, -1, 0, right, right + 1])

    def op(self, data: st.DataObject, kinds: list[str]) -> pb.Op:
        kind = data.draw(st.sampled_from(kinds))
        path = data.draw(self.paths(kind))
        if kind == "create":
            flags = {flag: data.draw(strategy) for flag, strategy in FLAGS.items()}
            payload = data.draw(DATA)
            return pb.Op(create=pb.CreateRequest(path=path, data=payload, **flags))
        version = data.draw(self.version(path))
        if kind == "set_data":
            payload = data.draw(DATA)
            return pb.Op(set_data=pb.SetDataRequest(path=path, data=payload, version=version))
        if kind == "delete":
            recursive = data.draw(SOMETIMES)
            return pb.Op(delete=pb.DeleteRequest(path=path, version=version, recursive=recursive))
        return pb.Op(check=pb.CheckRequest(path=path, version=-1 if version is None else version))

    def session(self, data: st.DataObject) -> int:
        """Mostly a live one, else no session or the one that ended last."""
        live = sorted(self.model.sessions)
        return data.draw(st.sampled_from([*live, *live, 0, *sorted(self.ended)[-1:]]))

    # -------------------------------------------------------------- steps

    @initialize()
    def start(self) -> None:
        """A live session and a few nodes from the start, so ops land early."""
        self.open_session()
        for path in ("/a", "/b", "/a/b"):
            self.single(pb.Op(create=pb.CreateRequest(path=path)), 0)

    @rule(data=st.data())
    def step(self, data: st.DataObject) -> None:
        step = data.draw(STEPS)
        if step == "create":
            self.single(self.op(data, ["create"]), self.session(data))
        elif step == "change":
            self.single(self.op(data, ["set_data", "delete", "check"]), self.session(data))
        elif step == "multi":
            kinds = ["create", "set_data", "delete", "check"]
            ops = [self.op(data, kinds) for _ in range(data.draw(st.integers(1, 3)))]
            self.multi(ops, self.session(data))
        elif step == "retry" and self.last_write:
            # The reply was lost: the same write again gets the first reply and changes nothing.
            cmd, result = self.last_write[data.draw(st.sampled_from(sorted(self.last_write)))]
            assert self.apply(cmd) == Applied(result, [])
        elif step == "open" and len(self.model.sessions) < 3:
            self.open_session()
        elif step == "end" and (self.model.sessions or self.ended):
            # Weighted by what a session owns: ending one with ephemerals matters most.
            owners = [node.owner for node in self.model.nodes.values() if node.owner]
            known = [*sorted(self.model.sessions), *sorted(owners), *sorted(self.ended)[-1:]]
            self.end_session(data.draw(st.sampled_from(known)), expire=data.draw(st.booleans()))

    def single(self, op: pb.Op, session: int) -> None:
        """Apply one op as a command of its own and follow it in the model."""
        kind = op.WhichOneof("op")
        applied = self.write(session, **{kind: getattr(op, kind)})
        model = copy.deepcopy(self.model)
        try:
            if session and session not in model.sessions:
                raise Refused(Code.SESSION_EXPIRED)
            created = model.run(op, session)
        except Refused as refusal:
            assert not applied.ok and applied.result.code in refusal.codes, applied.result
            assert applied.events == []
            return
        assert applied.ok, applied.result
        if kind == "create":
            assert applied.result.path == created
        self.model = model

    def multi(self, ops: list[pb.Op], session: int) -> None:
        """All ops or none: the model runs them on a copy it keeps only if
        every op succeeds."""
        applied = self.write(session, multi=pb.MultiRequest(ops=ops))
        if session and session not in self.model.sessions:
            assert applied.result.code == Code.SESSION_EXPIRED
            return
        results = applied.result.results
        model, created = copy.deepcopy(self.model), []
        for index, op in enumerate(ops):
            try:
                created.append(model.run(op, session))
            except Refused as refusal:
                codes = [result.error.code for result in results]
                assert codes[:index] == [Code.ROLLED_BACK] * index
                assert codes[index] in refusal.codes
                assert codes[index + 1 :] == [Code.RUNTIME_INCONSISTENCY] * (len(ops) - index - 1)
                assert applied.events == []
                return
        assert [result.WhichOneof("result") for result in results] == [
            op.WhichOneof("op") for op in ops
        ]
        assert [result.create.path or None for result in results] == created
        self.model = model

    def open_session(self) -> None:
        result = self.apply(command(0, open_session=log_pb2.OpenSession(timeout_ms=1000))).result
        assert result.session_id == self.tree.zxid
        self.model.sessions.add(result.session_id)

    def end_session(self, session: int, expire: bool) -> None:
        if expire:
            applied = self.apply(command(session, expire_session=log_pb2.ExpireSession()))
        else:
            applied = self.apply(command(session, close_session=log_pb2.CloseSession()))
        if session in self.ended:
            assert applied.result.code == Code.SESSION_EXPIRED
            return
        assert applied.ok, applied.result
        self.model.end_session(session)
        self.ended.add(session)
        self.last_write.pop(session, None)

    # --------------------------------------------------------- invariants

    @invariant()
    def tree_matches_model(self) -> None:
        seen, todo = [], ["/"]
        while todo:
            path = todo.pop()
            seen.append(path)
            listing = self.tree.get_children(path)
            want = self.model.nodes[path]
            assert list(listing.children) == self.model.children(path), path
            stat = listing.stat
            got = (self.tree.get_data(path).data, stat.version, stat.ephemeral_owner)
            assert got == (want.data, want.version, want.owner), path
            assert (stat.cversion, stat.num_children) == (want.cversion, len(listing.children))
            todo.extend(f"{path.rstrip('/')}/{name}" for name in listing.children)
        assert sorted(seen) == sorted(self.model.nodes) == sorted(self.tree.nodes)

    @invariant()
    def ephemerals_belong_to_live_sessions(self) -> None:
        assert self.tree.sessions.keys() == self.model.sessions
        for node in self.tree.nodes.values():
            assert not node.ephemeral_owner or node.ephemeral_owner in self.tree.sessions
        owned = {session: set() for session in self.model.sessions}
        for path, node in self.model.nodes.items():
            if node.owner:
                owned[node.owner].add(path)
        assert {s: v.ephemerals for s, v in self.tree.sessions.items()} == owned


TestTreeMachine = TreeMachine.TestCase
TestTreeMachine.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
