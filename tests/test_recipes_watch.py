"""DataWatch, ChildrenWatch, TreeCache and Config against a real coord-server,
and the recipes as client attributes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from queue import Empty, Queue

import pytest

from coord_client import Client
from coord_client.exceptions import BadVersionError
from coord_client.recipes import Lock, RecipesMixin, TreeEvent
from tests.recipe_client import WAIT, Lab


@pytest.fixture
def lab(server) -> Iterator[Lab]:
    with Lab(server.address) as made:
        yield made


def test_every_recipe_is_a_client_attribute_the_kazoo_way():
    zk = Client("127.0.0.1:1")
    names = [name for name in vars(RecipesMixin) if name[0].isupper()]
    assert len(names) == 15
    for name in names:
        bound = getattr(zk, name)
        assert bound.func is getattr(Client, name) and bound.args == (zk,)
    lock = zk.Lock("/path", "me")
    assert isinstance(lock, Lock) and lock.client is zk and lock.data == b"me"


# ------------------------------------------------------------- watchers


def test_data_watch_reports_now_and_on_every_change_until_told_to_stop(lab):
    zk = lab.client()
    calls: Queue = Queue()

    @zk.DataWatch("/dw")
    def changed(data, stat):
        calls.put((data, stat.version if stat else None))

    assert calls.get(timeout=WAIT) == (None, None)
    zk.create("/dw", b"1")
    assert calls.get(timeout=WAIT) == (b"1", 0)
    zk.set("/dw", b"2")
    assert calls.get(timeout=WAIT) == (b"2", 1)

    once: Queue = Queue()
    zk.DataWatch("/dw", lambda data, stat: once.put(data) or False)
    assert once.get(timeout=WAIT) == b"2"
    zk.delete("/dw")
    assert calls.get(timeout=WAIT) == (None, None)  # after the stopped watch's turn
    assert once.empty(), "a watch that returned False was called again"
    with pytest.raises(TypeError):
        zk.DataWatch("/dw", print)(print)


def test_children_watch_reports_changes_and_stops_when_the_node_goes(lab):
    zk = lab.client()
    zk.create("/cw")
    calls: Queue = Queue()
    zk.ChildrenWatch("/cw", lambda children, event: calls.put((children, event)), send_event=True)
    assert calls.get(timeout=WAIT) == ([], None)
    zk.create("/cw/a")
    children, event = calls.get(timeout=WAIT)
    assert children == ["a"] and event.path == "/cw"
    zk.create("/cw/b")
    assert calls.get(timeout=WAIT)[0] == ["a", "b"]
    # Callbacks run in order on one thread: once the marker's has run, the
    # children watch has seen what came before it.
    marker: Queue = Queue()
    zk.DataWatch("/marker", lambda data, stat: marker.put(data))
    assert marker.get(timeout=WAIT) is None
    zk.delete("/cw", recursive=True)
    zk.create("/marker", b"1")
    assert marker.get(timeout=WAIT) == b"1"
    zk.create("/cw/c", makepath=True)
    zk.set("/marker", b"2")
    assert marker.get(timeout=WAIT) == b"2"
    with pytest.raises(Empty):
        calls.get_nowait()  # stopped at the deletion


# ------------------------------------------------------------ TreeCache


def test_tree_cache_loads_a_subtree_and_follows_its_changes(lab):
    zk = lab.client()
    zk.create("/tree/a/b", b"2", makepath=True)
    cache = zk.TreeCache("/tree")
    events: Queue = Queue()
    cache.listen(lambda e: events.put((e.event_type, e.event_data and e.event_data.path)))
    cache.start()
    added = [events.get(timeout=WAIT) for _ in range(4)]
    assert added == [
        (TreeEvent.NODE_ADDED, "/tree"),
        (TreeEvent.NODE_ADDED, "/tree/a"),
        (TreeEvent.NODE_ADDED, "/tree/a/b"),
        (TreeEvent.INITIALIZED, None),
    ]
    assert cache.get_children("/tree") == {"a"} and cache.get_data("/tree/a/b").data == b"2"

    zk.create("/tree/c", b"3")
    assert events.get(timeout=WAIT) == (TreeEvent.NODE_ADDED, "/tree/c")
    zk.set("/tree/a", b"new")
    assert events.get(timeout=WAIT) == (TreeEvent.NODE_UPDATED, "/tree/a")
    node = cache.get_data("/tree/a")
    assert node.data == b"new" and node.stat.version == 1
    zk.delete("/tree/a", recursive=True)
    assert events.get(timeout=WAIT) == (TreeEvent.NODE_REMOVED, "/tree/a/b")
    assert events.get(timeout=WAIT) == (TreeEvent.NODE_REMOVED, "/tree/a")
    assert cache.get_data("/tree/a") is None and cache.get_children("/tree") == {"c"}
    cache.close()
    assert cache.get_data("/tree") is None


# --------------------------------------------------------------- Config


def view(values: dict) -> list[str]:
    """How the config-watch worker prints a mapping."""
    return [json.dumps(values, sort_keys=True, separators=(",", ":"))]


def test_config_changes_reach_another_process_whole(lab):
    config = lab.client().Config("/cfg", codec=json)
    watcher = lab.worker("config-watch", "/cfg")
    assert watcher.expect("view") == ["0", *view({})]
    version = config.update({"a": 1, "b": [1, 2]})
    assert (version, config.version, dict(config)) == (1, 1, {"a": 1, "b": [1, 2]})
    assert watcher.expect("view") == ["1", *view({"a": 1, "b": [1, 2]})]

    for i in range(2, 12):
        config.update({"a": i, "b": [i, i]})
    while True:  # every view the other process shows is one whole update
        version, shown = watcher.expect("view")
        values = json.loads(shown)
        assert values["b"] == [values["a"]] * 2 and int(version) == values["a"], shown
        if values["a"] == 11:
            break
    assert config.get("a") == 11 and config.get("missing", "default") == "default"


def test_config_update_on_a_stale_version_fails_and_changes_nothing(lab):
    zk, other = lab.client(), lab.client()
    mine, theirs = zk.Config("/cfg"), other.Config("/cfg")
    seen: Queue = Queue()
    mine.on_change(seen.put)
    version = mine.version
    theirs.update({"k": b"theirs"}, version=version)
    with pytest.raises(BadVersionError):
        mine.update({"k": b"mine", "new": b"x"}, version=version)
    assert zk.get("/cfg/k")[0] == b"theirs" and zk.exists("/cfg/new") is None
    assert seen.get(timeout=WAIT) == {"k": b"theirs"} and mine.version == version + 1
    assert mine.update({"k": b"mine"}, version=mine.version) == version + 2
    assert theirs.update({"other": b"1"}) == version + 3  # no version: always applies
    assert dict(mine) == {"k": b"mine", "other": b"1"}
    with pytest.raises(TypeError):
        mine.update({"k": "not bytes"})
    with pytest.raises(ValueError):
        mine.update({"a/b": b"x"})
    mine.close()
    theirs.update({"k": b"after close"})
    assert mine["k"] == b"mine"
