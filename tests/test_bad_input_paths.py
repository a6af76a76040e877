"""Bad input, paths: every malformed path is refused by every request that
carries one, unary or in a Multi, and changes nothing (tests/badinput.py).
"""

from __future__ import annotations

import pytest

from coord_api.wire import client_pb2 as pb
from tests.badinput import (
    assert_unchanged,
    check,
    create_op,
    describe,
    dump,
    op,
    path_ok,
)

BAD_PATHS = {
    "empty": "",
    "relative": "app",
    "relative-nested": "app/config",
    "trailing-slash": "/app/",
    "trailing-slash-missing": "/nope/",
    "double-slash": "//",
    "leading-double-slash": "//app",
    "empty-segment": "/app//config",
    "dot": "/app/./config",
    "dot-last": "/app/.",
    "dotdot": "/app/../svc",
    "dotdot-root": "/..",
    "nul": "/app\x00",
    "nul-middle": "/a\x00b",
    "ctrl-01-in-parent": "/a\x01/b",
    "tab": "/a\tb",
    "newline": "/app\n",
    "unit-separator": "/a\x1f",
    "del": "/\x7f",
    "c1-nel": "/a\x85",
    "c1-9f": "/a\x9fb",
    "private-use-e000": "/a\ue000",
    "private-use-f8ff": "/\uf8ff",
    "fff0": "/a\ufff0",
    "ffff": "/a\uffff",
    "coord-trailing-slash": "/coord/",
}


def bad_path_requests(path: str, session: pb.SessionRef) -> list[tuple[str, object, object]]:
    """Every request that carries `path`, and what each must answer."""
    bad = "BAD_ARGUMENTS"
    two = ["ROLLED_BACK", bad]
    good = create_op("/app/ok")
    return [
        ("Create", pb.CreateRequest(path=path, data=b"d"), bad),
        ("Create", pb.CreateRequest(path=path, sequential=True, make_parents=True), bad),
        ("Create", pb.CreateRequest(path=path, ephemeral=True, session=session), bad),
        ("Delete", pb.DeleteRequest(path=path), bad),
        ("Delete", pb.DeleteRequest(path=path, recursive=True, version=-1), bad),
        ("SetData", pb.SetDataRequest(path=path, data=b"d"), bad),
        ("GetData", pb.GetDataRequest(path=path), bad),
        ("Exists", pb.ExistsRequest(path=path), bad),
        ("GetChildren", pb.GetChildrenRequest(path=path, session=session), bad),
        ("Sync", pb.SyncRequest(path=path), bad),
        ("Watch", pb.AddWatchRequest(path=path), bad),
        ("Watch", pb.AddWatchRequest(path=path, mode=pb.PERSISTENT_RECURSIVE), bad),
        ("Multi", pb.MultiRequest(ops=[good, create_op(path)]), two),
        ("Multi", pb.MultiRequest(ops=[good, op(delete=pb.DeleteRequest(path=path))]), two),
        ("Multi", pb.MultiRequest(ops=[good, op(set_data=pb.SetDataRequest(path=path))]), two),
        ("Multi", pb.MultiRequest(ops=[good, op(check=pb.CheckRequest(path=path))]), two),
    ]


@pytest.mark.parametrize("path", BAD_PATHS.values(), ids=BAD_PATHS.keys())
def test_malformed_path_refused_everywhere(coord, path):
    assert not path_ok(path)
    before = dump(coord.stub)
    wrong = []
    for method, message, expect in bad_path_requests(path, coord.session):
        try:
            check(coord.send(method, message), expect)
        except AssertionError as err:
            wrong.append(f"{method}({describe(message)}): {err}")
    assert not wrong, "\n".join(wrong)
    assert_unchanged(coord, before)
