"""Bad input, searched: Hypothesis draws malformed and failing requests of
every kind, unary and on the session stream, against one server, and after
each the tree must be exactly what it was (tests/badinput.py; the
strategies: tests/bad_requests.py and tests/bad_streams.py).
"""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.bad_requests import raw_unary, reads, unary_others, unary_writes, weighted
from tests.bad_streams import STREAM_ACTIONS, run_stream
from tests.badinput import (
    WRITE_METHODS,
    Coord,
    assert_unchanged,
    check_refused_or_served,
    describe,
    dump,
)

ACTIONS = weighted(
    (3, unary_writes().map(lambda t: ("unary", *t))),
    (1, reads(unary=True).map(lambda t: ("unary", t[0], t[2]))),
    (1, unary_others().map(lambda t: ("unary", *t))),
    (1, raw_unary().map(lambda t: ("raw", *t))),
    (3, STREAM_ACTIONS),
)


def perform(coord: Coord, action) -> None:
    if action[0] == "unary":
        _, method, message = action
        label = f"{method}({describe(message)})"
        must_fail = method in WRITE_METHODS or method == "Watch"
        check_refused_or_served(coord.send(method, message), must_fail, label)
    elif action[0] == "raw":
        _, method, raw = action
        check_refused_or_served(coord.call(method, raw), False, f"{method}(raw {raw!r})")
    else:
        run_stream(coord, *action[1:])


def test_random_bad_requests_change_nothing(coord):
    """Hypothesis: random and malformed requests, every one answered properly,
    the tree never changes, and the server serves throughout."""
    baseline = dump(coord.stub)

    # No explain phase (it re-runs failures under a tracer: minutes against a
    # real server) and one bug at a time: test_bad_input_*.py pin each one down.
    @settings(
        max_examples=150,
        deadline=None,
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
        report_multiple_bugs=False,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.large_base_example,
        ],
    )
    @given(st.lists(ACTIONS, min_size=1, max_size=4))
    def run(actions):
        before = dump(coord.stub)  # not the baseline: a failure names its own culprit
        for action in actions:
            perform(coord, action)
        assert_unchanged(coord, before)

    run()
    coord.serves()
    assert_unchanged(coord, baseline)
