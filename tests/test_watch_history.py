"""The history of recent changes a member replays to reconnecting
persistent watches: bounded by count and by the bytes of its paths."""

from __future__ import annotations

from coord import watches
from coord.outcome import Event, EventType
from coord.watches import WatchRegistry


def test_long_paths_make_the_history_forget_sooner(monkeypatch):
    monkeypatch.setattr(watches, "HISTORY_PATH_BYTES", 10_000)
    registry = WatchRegistry(history=1000)
    long_path = "/" + "p" * 999
    for zxid in range(1, 101):
        registry.fire([Event(EventType.CHANGED, long_path)], zxid)
    # Ten 1000-byte paths fit: what came before is no longer known.
    assert registry.history_after == 90


def test_short_paths_keep_the_history_by_count():
    registry = WatchRegistry(history=50)
    for zxid in range(1, 101):
        registry.fire([Event(EventType.CHANGED, "/a")], zxid)
    assert registry.history_after == 50
