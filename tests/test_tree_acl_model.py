"""The tree's ACL checks against a tiny independent model, under random
commands from several callers.

The model is ZooKeeper's rules written out plainly: a node is data, a
version, an aversion and a list of (perms, scheme, id); a caller is bob,
eve (digest users), nobody (no credential) or the super user. Random
creates (with random ACLs, `auth` included, and make-parents), sets,
deletes (recursive too), set_acls, reads, get_acls and multis run over a
small path alphabet; every result must be the model's, refusals in
ZooKeeper's order, and after every step the tree must hold the model's
nodes with their ACLs.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from coord import acl as acls
from coord.outcome import TreeError
from coord.session import ops
from coord.tree import Tree
from coord.watches import WatchRegistry
from coord.wire import log_pb2
from coord_api.wire import client_pb2 as pb

Code = pb.ErrorCode
READ, WRITE, CREATE, DELETE, ADMIN, ALL = 1, 2, 4, 8, 16, 31
BOB = ("digest", acls.digest_id("bob:pw"))
EVE = ("digest", acls.digest_id("eve:pw"))
ROOT = ("digest", acls.digest_id("root:pw"))
CALLERS = {
    "bob": [BOB, ("ip", "127.0.0.1")],
    "eve": [EVE, ("ip", "10.0.0.1")],
    "nobody": [("ip", "127.0.0.1")],
    "super": [ROOT, ("super", "")],
}
ALPHABET = ["/a", "/b", "/a/a", "/a/b", "/b/a", "/a/a/b"]
IDS = st.sampled_from([("world", "anyone"), BOB, EVE, ("auth", ""), ("ip", "127.0.0.0/8")])
PERMS = st.sampled_from([0, READ, ALL, ALL, ALL & ~READ, ALL & ~DELETE, ALL & ~CREATE, 2 | 8 | 16])
ENTRIES = st.lists(st.tuples(PERMS, IDS), max_size=3)
STEPS = st.sampled_from(["create"] * 3 + ["set", "delete", "set_acl", "read", "get_acl", "multi"])


class Refused(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Node:
    acl: list[tuple[int, str, str]]
    data: bytes = b""
    version: int = 0
    aversion: int = 0
    children: set[str] = field(default_factory=set)


def parent_of(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


def allowed(node: Node, perm: int, caller: str) -> bool:
    """ZooKeeper's checkACL, written out."""
    if caller == "super":
        return True
    ids = CALLERS[caller]
    for perms, scheme, found in node.acl:
        if not perms & perm:
            continue
        if scheme == "world" or (scheme, found) in ids:
            return True
        if scheme == "ip" and any(i == ("ip", "127.0.0.1") for i in ids):
            return True  # the only range drawn is 127.0.0.0/8
    return False


class Model:
    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {"/": Node([(ALL, "world", "anyone")])}

    def need(self, path: str, perm: int, caller: str) -> None:
        if not allowed(self.nodes[path], perm, caller):
            raise Refused(Code.NO_AUTH)

    def existing(self, path: str) -> Node:
        if path not in self.nodes:
            raise Refused(Code.NO_NODE)
        return self.nodes[path]

    def fixed(self, entries, caller: str, empty_is_open: bool) -> list:
        if not entries and empty_is_open:
            return [(ALL, "world", "anyone")]
        unique = []
        for entry in entries:
            if entry not in unique:
                unique.append(entry)
        if not unique:
            raise Refused(Code.INVALID_ACL)
        result = []
        for perms, scheme, found in unique:
            if scheme == "auth":
                digests = [i for i in CALLERS[caller] if i[0] == "digest"]
                if not digests:
                    raise Refused(Code.INVALID_ACL)
                result.extend((perms, *i) for i in digests)
            else:
                result.append((perms, scheme, found))
        return result

    def version_matches(self, asked: int | None, actual: int) -> None:
        if asked not in (None, -1, actual):
            raise Refused(Code.BAD_VERSION)

    def create(self, op: pb.CreateRequest, caller: str) -> None:
        acl = self.fixed([(e.perms, e.id.scheme, e.id.id) for e in op.acl], caller, True)
        parent = parent_of(op.path)
        missing = []
        while parent not in self.nodes and op.make_parents:
            missing.insert(0, parent)
            parent = parent_of(parent)
        if parent not in self.nodes:
            raise Refused(Code.NO_NODE)
        self.need(parent, CREATE, caller)
        if missing and not allowed(Node(acl), CREATE, caller):
            raise Refused(Code.NO_AUTH)
        if op.path in self.nodes:
            raise Refused(Code.NODE_EXISTS)
        for path in [*missing, op.path]:
            self.nodes[path] = Node(list(acl), op.data if path == op.path else b"")
            self.nodes[parent_of(path)].children.add(path)

    def delete(self, op: pb.DeleteRequest, caller: str) -> None:
        parent = parent_of(op.path)
        self.existing(parent)
        self.need(parent, DELETE, caller)
        node = self.existing(op.path)
        self.version_matches(op.version if op.HasField("version") else None, node.version)
        if node.children and not op.recursive:
            raise Refused(Code.NOT_EMPTY)
        subtree = [p for p in self.nodes if p == op.path or p.startswith(op.path + "/")]
        for path in subtree:
            if self.nodes[path].children:
                self.need(path, DELETE, caller)
        for path in subtree:
            del self.nodes[path]
        self.nodes[parent].children.discard(op.path)

    def set_data(self, op: pb.SetDataRequest, caller: str) -> None:
        node = self.existing(op.path)
        self.need(op.path, WRITE, caller)
        self.version_matches(op.version if op.HasField("version") else None, node.version)
        node.data = op.data
        node.version += 1

    def set_acl(self, op: pb.SetAclRequest, caller: str) -> None:
        acl = self.fixed([(e.perms, e.id.scheme, e.id.id) for e in op.acl], caller, False)
        node = self.existing(op.path)
        self.need(op.path, ADMIN, caller)
        self.version_matches(op.version if op.HasField("version") else None, node.aversion)
        node.acl = acl
        node.aversion += 1

    def check(self, op: pb.CheckRequest, caller: str) -> None:
        node = self.existing(op.path)
        self.need(op.path, READ, caller)
        self.version_matches(op.version, node.version)

    def get_data(self, path: str, caller: str) -> bytes:
        node = self.existing(path)
        self.need(path, READ, caller)
        return node.data

    def get_acl(self, path: str, caller: str) -> list:
        node = self.existing(path)
        self.need(path, READ | ADMIN, caller)
        if allowed(node, ADMIN, caller):
            return node.acl
        return [(p, s, f.split(":")[0] + ":x" if s == "digest" else f) for p, s, f in node.acl]


def wire_acl(entries) -> list[pb.ACL]:
    return [pb.ACL(perms=p, id=pb.Id(scheme=s, id=i)) for p, (s, i) in entries]


class AclMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tree = Tree()
        self.model = Model()

    def apply(self, caller: str, **op):
        ids = [pb.Id(scheme=s, id=i) for s, i in CALLERS[caller]]
        zxid = self.tree.zxid + 1
        return self.tree.apply(zxid, zxid, log_pb2.Command(auth=ids, **op))

    def op(self, data: st.DataObject, kind: str) -> pb.Op:
        path = data.draw(st.sampled_from(ALPHABET))
        version = data.draw(st.sampled_from([None, -1, 0, 1]))
        if kind == "create":
            entries = wire_acl(data.draw(st.one_of(st.just([]), ENTRIES)))  # often open
            make = data.draw(st.booleans())
            payload = data.draw(st.sampled_from([b"", b"x"]))
            return pb.Op(
                create=pb.CreateRequest(path=path, data=payload, acl=entries, make_parents=make)
            )
        if kind == "set_data":
            return pb.Op(set_data=pb.SetDataRequest(path=path, data=b"y", version=version))
        if kind == "delete":
            recursive = data.draw(st.booleans())
            return pb.Op(delete=pb.DeleteRequest(path=path, version=version, recursive=recursive))
        return pb.Op(check=pb.CheckRequest(path=path, version=-1 if version is None else version))

    @initialize()
    def start(self) -> None:
        for path in ("/a", "/b"):
            self.single(pb.Op(create=pb.CreateRequest(path=path)), "nobody")

    @rule(data=st.data())
    def step(self, data: st.DataObject) -> None:
        step = data.draw(STEPS)
        caller = data.draw(st.sampled_from(sorted(CALLERS)))
        if step == "create":
            self.single(self.op(data, "create"), caller)
        elif step == "set":
            self.single(self.op(data, "set_data"), caller)
        elif step == "delete":
            self.single(self.op(data, "delete"), caller)
        elif step == "set_acl":
            path = data.draw(st.sampled_from(ALPHABET))
            version = data.draw(st.sampled_from([None, -1, 0, 1]))
            entries = wire_acl(data.draw(ENTRIES))
            request = pb.SetAclRequest(path=path, acl=entries, version=version)
            self.compare(self.apply(caller, set_acl=request).result, "set_acl", request, caller)
        elif step == "read":
            self.read("get_data", data.draw(st.sampled_from(ALPHABET)), caller)
        elif step == "get_acl":
            self.read("get_acl", data.draw(st.sampled_from(ALPHABET)), caller)
        else:
            kinds = st.sampled_from(["create", "set_data", "delete", "check"])
            self.multi(
                [self.op(data, data.draw(kinds)) for _ in range(data.draw(st.integers(1, 3)))],
                caller,
            )

    def compare(self, result, kind: str, request, caller: str) -> None:
        """The model runs the op on a copy, kept only if the op succeeds."""
        model = copy.deepcopy(self.model)
        try:
            getattr(model, kind)(request, caller)
        except Refused as refusal:
            assert isinstance(result, pb.Error) and result.code == refusal.code, (
                result,
                refusal.code,
            )
            return
        assert not isinstance(result, pb.Error), result
        self.model = model

    def single(self, op: pb.Op, caller: str) -> None:
        kind = op.WhichOneof("op")
        request = getattr(op, kind)
        result = self.apply(caller, **{kind: request}).result
        self.compare(result, kind, request, caller)

    def multi(self, ops: list[pb.Op], caller: str) -> None:
        results = self.apply(caller, multi=pb.MultiRequest(ops=ops)).result.results
        model = copy.deepcopy(self.model)
        for index, op in enumerate(ops):
            kind = op.WhichOneof("op")
            try:
                getattr(model, kind)(getattr(op, kind), caller)
            except Refused as refusal:
                codes = [result.error.code for result in results]
                assert codes == [Code.ROLLED_BACK] * index + [refusal.code] + [
                    Code.RUNTIME_INCONSISTENCY
                ] * (len(ops) - index - 1)
                return
        assert all(not result.HasField("error") for result in results), results
        self.model = model

    def read(self, kind: str, path: str, caller: str) -> None:
        """A get_data or get_acl answers the same (or is refused with the same
        code) on the tree and on the model."""
        request = {"get_data": pb.GetDataRequest, "get_acl": pb.GetAclRequest}[kind](path=path)
        ids = frozenset(CALLERS[caller])
        try:
            response = ops.read(self.tree, WatchRegistry(), kind, request, None, ids)
            if kind == "get_data":
                got = response.data
            else:
                got = [(a.perms, a.id.scheme, a.id.id) for a in response.acl]
        except TreeError as err:
            got = err.code
        try:
            want = getattr(self.model, kind)(path, caller)
        except Refused as refusal:
            want = refusal.code
        assert got == want

    @invariant()
    def tree_matches_model(self) -> None:
        assert sorted(self.tree.nodes) == sorted(self.model.nodes)
        for path, want in self.model.nodes.items():
            node = self.tree.nodes[path]
            assert (node.data, node.version, node.aversion) == (
                want.data,
                want.version,
                want.aversion,
            )
            assert node.acl == tuple(want.acl), path


TestAclMachine = AclMachine.TestCase
TestAclMachine.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
