"""One hostile client process of a flood run, of one kind:

    sessions   opens sessions until every member refuses (or a cap), keeps them
               (started once the others have said "armed": their sessions open)
    noread     session streams that never read while a writer makes events
               for their watches and reads of a large node pile up for them
    oversized  requests just over the limits: data, request bytes, ops in a
               transaction, path bytes
    nested     make-parents creates of deeply nested and long paths
    watches    sets watches until refused (or a cap), on a session per member
    pipeline   thousands of requests sent on a stream that never reads

    python hostile.py KIND CONFIG_JSON

Everything it does is bounded by counts in the config and by `until`
(time.monotonic). It prints "armed" once its own sessions are open; at the
end it drops its streams and prints one JSON line: what it sent and what
came back (the error codes, by name).
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from coord_api.wire import client_pb2 as pb
from tests.rawsession import RawSession, SessionRefused

PING_EVERY = 3.0  # seconds: well inside the hostile sessions' timeout
FRAME = 100  # requests per frame when pipelining
STOP_AFTER_REFUSALS = 3  # refusals in a row that end the "until refused" loops


def code_name(code: int) -> str:
    """An error code by name (numbers this build does not know stay numbers)."""
    try:
        return pb.ErrorCode.Name(code)
    except ValueError:
        return str(code)


def refusal(exc: Exception) -> str:
    """How a session or a stream was refused: the session error's code, or
    the gRPC status the stream ended with."""
    if isinstance(exc, SessionRefused):
        answer = exc.answer
        if answer.WhichOneof("kind") == "session_error":
            return code_name(answer.session_error.code)
        return answer.WhichOneof("kind") or "empty"
    if isinstance(exc, grpc.RpcError):
        return f"grpc {exc.code().name}"
    return type(exc).__name__


def outcome(response: pb.Response) -> str:
    kind = response.WhichOneof("result")
    return code_name(response.error.code) if kind == "error" else "ok"


class Hostile:
    """What one process sent and got back; its streams, dropped at the end."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.hosts: list[str] = config["hosts"]
        self.until: float = config["until"]
        self.prefix: str = config["prefix"]
        self.sent = 0
        self.outcomes: Counter[str] = Counter()
        self.held: list[RawSession] = []
        self.by_host: dict[str, RawSession | None] = {}  # the rounds' sessions
        self.xids = itertools.count(1)
        self.lock = threading.Lock()

    def left(self) -> float:
        return self.until - time.monotonic()

    def open(self, host: str) -> RawSession | None:
        """A new session stream, or None (the refusal is counted)."""
        try:
            session = RawSession(host, timeout_ms=self.config["session_timeout_ms"])
        except (SessionRefused, grpc.RpcError) as exc:
            self.outcomes[f"session refused: {refusal(exc)}"] += 1
            return None
        self.outcomes["session opened"] += 1
        return session

    def request(self, host: str, session: RawSession | None, **op: Any) -> RawSession | None:
        """Send one request and count its outcome. A stream the member ended
        is counted too, and the session goes on over a new stream (a new
        session if it is gone); None when the member refuses that."""
        if session is None and (session := self.open(host)) is None:
            return None
        self.sent += 1
        session.send(pb.ClientMessage(request=pb.Request(xid=next(self.xids), **op)))
        answer = next_answer(session)
        self.outcomes[answer] += 1
        if not answer.startswith("stream ended"):
            return session
        session.drop()
        try:
            return RawSession(host, session.session_id, session.password)
        except (SessionRefused, grpc.RpcError):
            return self.open(host)

    def rounds(self) -> Iterator[tuple[int, str]]:
        """A session with each member, then (round, member) every `round_s`
        until the end, the members in turn (for `on`)."""
        self.by_host = {host: self.open(host) for host in self.hosts}
        self.armed()
        for n in itertools.count():
            if self.left() <= 0:
                return
            yield n, self.hosts[n % len(self.hosts)]
            time.sleep(self.config["round_s"])

    def on(self, host: str, **op: Any) -> None:
        """One request on the rounds' session with `host`."""
        self.by_host[host] = self.request(host, self.by_host[host], **op)

    def send_all(self, session: RawSession, requests: list[pb.Request]) -> None:
        """Pipelined: frames of FRAME requests, no reading."""
        for start in range(0, len(requests), FRAME):
            chunk = requests[start : start + FRAME]
            session.send(*(pb.ClientMessage(request=r) for r in chunk))
            self.sent += len(chunk)

    def keep_alive(self) -> None:
        """Ping every held session until the end (streams that do not read
        still send)."""
        while self.left() > 0:
            time.sleep(min(PING_EVERY, max(0.0, self.left())))
            with self.lock:
                held = list(self.held)
            for session in held:
                session.send(pb.ClientMessage(ping=pb.Ping()))

    def armed(self) -> None:
        """Say that this process's sessions are open (the session opener is
        started once every other hostile client has said so)."""
        print("armed", flush=True)

    def hold(self) -> None:
        threading.Thread(target=self.keep_alive, daemon=True).start()
        time.sleep(max(0.0, self.left()))

    def summary(self, kind: str) -> dict[str, Any]:
        return {"kind": kind, "sent": self.sent, "outcomes": dict(self.outcomes)}

    def close(self) -> None:
        for session in self.held:
            session.drop()


def open_sessions(h: Hostile) -> None:
    """Sessions round-robin over the members until each has refused
    STOP_AFTER_REFUSALS times in a row (or the cap), held to the end."""
    refused = Counter[str]()
    for i in range(h.config["sessions"]):
        live = [host for host in h.hosts if refused[host] < STOP_AFTER_REFUSALS]
        if not live or h.left() <= 0:
            break
        host = live[i % len(live)]
        session = h.open(host)
        if session is None:
            refused[host] += 1
            continue
        refused[host] = 0
        with h.lock:
            h.held.append(session)
    h.hold()


def never_read(h: Hostile) -> None:
    """Streams with a recursive watch on the busy nodes and reads of the big
    node sent, never read; meanwhile this process's own writer changes the
    busy nodes, so events pile up for them too."""
    for i in range(h.config["noread_streams"]):
        session = h.open(h.hosts[i % len(h.hosts)])
        if session is None:
            continue
        watch = pb.AddWatchRequest(path=f"{h.prefix}/busy", mode=pb.PERSISTENT_RECURSIVE)
        reads = [
            pb.Request(xid=next(h.xids), get_data=pb.GetDataRequest(path=f"{h.prefix}/big"))
            for _ in range(h.config["noread_reads"])
        ]
        h.send_all(session, [pb.Request(xid=next(h.xids), add_watch=watch), *reads])
        h.held.append(session)
    writer = h.open(h.hosts[0])
    h.armed()
    threading.Thread(target=h.keep_alive, daemon=True).start()
    value = b"e" * 1024
    pause = 1 / h.config["busy_writes_per_s"]
    n = 0
    while h.left() > 0:  # a refused writer tries again next time
        n += 1
        path = f"{h.prefix}/busy/n{n % 50:02d}"
        writer = h.request(h.hosts[0], writer, set_data=pb.SetDataRequest(path=path, data=value))
        time.sleep(pause)


def oversized(h: Hostile) -> None:
    """Rounds of requests each just over one limit, on fresh paths (so what
    a member accepts is stored)."""
    limits = h.config["limits"]
    half = limits["max_request_bytes"] // 2 + 1024
    for n, host in h.rounds():
        base = f"{h.prefix}/over/r{n}"
        data = pb.SetDataRequest(path=f"{h.prefix}/big", data=b"d" * (limits["max_data_bytes"] + 1))
        halves = [pb.CreateRequest(path=f"{base}-{i}", data=b"m" * half) for i in (0, 1)]
        many = [pb.CreateRequest(path=f"{base}-op{i}") for i in range(limits["max_multi_ops"] + 1)]
        long_name = f"{base}-" + "p" * (limits["max_path_bytes"] + 1 - len(base) - 1)
        h.on(host, set_data=data)
        h.on(host, multi=pb.MultiRequest(ops=[pb.Op(create=c) for c in halves]))
        h.on(host, multi=pb.MultiRequest(ops=[pb.Op(create=c) for c in many]))
        h.on(host, create=pb.CreateRequest(path=long_name))


def nested(h: Hostile) -> None:
    """Make-parents creates, two a round: one level deeper than the depth
    limit, and one as long as the path limit in short components (what a
    member stores grows with the square of the depth)."""
    limits = h.config["limits"]
    for n, host in h.rounds():
        deep = f"{h.prefix}/deep/r{n}" + "/d" * (limits["max_path_depth"] + 1)
        long_path = f"{h.prefix}/deep/l{n}"
        while len(long_path) + 9 <= limits["max_path_bytes"]:
            long_path += "/abcdefgh"
        for path in (deep, long_path):
            h.on(host, create=pb.CreateRequest(path=path, make_parents=True))


def set_watches(h: Hostile) -> None:
    """On one session per member, exists-watches on distinct absent paths,
    FRAME at a time, until refused (or the cap); the sessions are kept."""
    sessions = {host: h.open(host) for host in h.hosts}
    h.armed()
    for host, session in sessions.items():
        if session is None:
            continue
        h.held.append(session)
        refusals = 0
        for start in range(0, h.config["watches"], FRAME):
            if refusals >= STOP_AFTER_REFUSALS or h.left() <= 0:
                break
            requests = [
                pb.Request(
                    xid=next(h.xids),
                    exists=pb.ExistsRequest(path=f"{h.prefix}/w/{host}-{i}", watch=True),
                )
                for i in range(start, start + FRAME)
            ]
            h.send_all(session, requests)
            results = [next_answer(session) for _ in requests]
            h.outcomes.update(results)
            if any(r.startswith("stream ended") for r in results):
                break
            refusals = refusals + 1 if any(r != "ok" for r in results) else 0
    h.hold()


def next_answer(session: RawSession) -> str:
    """The outcome of the next response on a stream (events aside), or how
    the stream ended: the session error the member sent, or its gRPC status."""
    ended = "stream ended: "
    try:
        while (message := session.next_message()).WhichOneof("kind") == "event":
            pass
    except grpc.RpcError as exc:
        return ended + refusal(exc)
    except StopIteration:
        return ended + "closed"
    if message.WhichOneof("kind") == "response":
        return outcome(message.response)
    if message.WhichOneof("kind") == "session_error":
        return ended + code_name(message.session_error.code)
    return ended + f"unexpected {message.WhichOneof('kind')}"


def pipeline(h: Hostile) -> None:
    """On a stream per member, `pipeline_requests` reads of the big node
    sent in frames without reading a reply; held to the end."""
    read = pb.GetDataRequest(path=f"{h.prefix}/big")
    sessions = [h.open(host) for host in h.hosts]
    h.armed()
    for session in sessions:
        if session is None:
            continue
        h.held.append(session)
        requests = [
            pb.Request(xid=next(h.xids), get_data=read)
            for _ in range(h.config["pipeline_requests"])
        ]
        h.send_all(session, requests)
    h.hold()


KINDS: dict[str, Callable[[Hostile], None]] = {
    "sessions": open_sessions,
    "noread": never_read,
    "oversized": oversized,
    "nested": nested,
    "watches": set_watches,
    "pipeline": pipeline,
}


def main() -> None:
    kind, config = sys.argv[1], json.loads(sys.argv[2])
    hostile = Hostile(config)
    try:
        KINDS[kind](hostile)
    except Exception:  # reported, not hidden: the run shows it beside the figures
        hostile.outcomes[f"client failed: {traceback.format_exc().splitlines()[-1]}"] += 1
        traceback.print_exc()
    finally:
        hostile.close()
        print(json.dumps(hostile.summary(kind)), flush=True)
        os._exit(0)  # the dropped streams' threads need not be waited for


if __name__ == "__main__":
    main()
