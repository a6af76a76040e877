"""The linearizability checker on known histories, and against an exhaustive search.

The cluster tests trust its verdicts, so it must both pass every history a
real register can produce and catch each classic anomaly: stale reads, lost
acknowledged writes, phantom values, double CAS wins, and unknown-outcome
writes seen before they were sent.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace

import pytest

from tests.linearizability import (
    CheckInconclusive,
    Op,
    State,
    check,
    step,
)

NEVER = "never-written"


def op(
    client: int,
    call: float,
    ret: float | None,
    kind: str,
    arg: object = None,
    result: object = None,
    key: str = "k",
) -> Op:
    """Op with the key last and defaulted, as most tests use one key."""
    return Op(client, call, ret, kind, key, arg, result)


def assert_fails(history: list[Op], key: str = "k") -> None:
    """Not linearizable, blamed on `key`, with a witness that fails on its own."""
    result = check(history)
    assert not result.ok
    assert result.key == key
    assert set(result.witness) <= {o for o in history if o.key == key}
    assert not check(list(result.witness)).ok


# -- hand-written histories --------------------------------------------------


def test_sequential_history_is_linearizable() -> None:
    history = [
        op(1, 0, 1, "read", result=None),
        op(1, 2, 3, "create", "a", "ok"),
        op(2, 4, 5, "read", result=("a", 0)),
        op(2, 6, 7, "write", "b", 1),
        op(1, 8, 9, "cas", (1, "c"), 2),
        op(1, 10, 11, "cas", (1, "d"), "BadVersion"),
        op(2, 12, 13, "read", result=("c", 2)),
        op(2, 14, 15, "delete", result="ok"),
        op(1, 16, 17, "read", result=None),
    ]
    assert check(history).ok


def test_empty_history_is_linearizable() -> None:
    assert check([]).ok


@pytest.mark.parametrize("seen", [("a", 1), ("b", 1), ("a", 2), ("b", 2)])
def test_read_during_concurrent_writes_may_see_either(seen: tuple[str, int]) -> None:
    # Either write may go first, and the read may fall between them or after both.
    history = [
        op(1, 0, 1, "create", "init", "ok"),
        op(1, 2, 10, "write", "a", 1 if seen in {("a", 1), ("b", 2)} else 2),
        op(2, 3, 11, "write", "b", 2 if seen in {("a", 1), ("b", 2)} else 1),
        op(3, 4, 12, "read", result=seen),
    ]
    assert check(history).ok


def test_stale_read_after_completed_write_fails() -> None:
    history = [
        op(1, 0, 1, "create", "a", "ok"),
        op(1, 2, 3, "write", "b", 1),
        op(2, 4, 5, "read", result=("a", 0)),
    ]
    assert_fails(history)


def test_lost_acknowledged_write_fails() -> None:
    # x was acknowledged as version 1, yet y also became version 1 after it.
    history = [
        op(1, 0, 1, "create", "a", "ok"),
        op(1, 2, 3, "write", "x", 1),
        op(2, 4, 5, "write", "y", 1),
        op(2, 6, 7, "read", result=("y", 1)),
    ]
    assert_fails(history)


def test_read_of_a_value_never_written_fails() -> None:
    history = [
        op(1, 0, 1, "create", "a", "ok"),
        op(1, 2, 5, "write", "b", 1),
        op(2, 3, 4, "read", result=(NEVER, 1)),
    ]
    assert_fails(history)


def test_two_cas_wins_on_one_version_fail() -> None:
    history = [
        op(1, 0, 1, "create", "a", "ok"),
        op(1, 2, 6, "cas", (0, "b"), 1),
        op(2, 3, 7, "cas", (0, "c"), 1),
    ]
    assert_fails(history)


def test_unknown_write_that_shows_up_later_is_linearizable() -> None:
    history = [
        op(1, 0, 1, "create", "a", "ok"),
        op(1, 2, None, "write", "b"),
        op(2, 3, 4, "read", result=("a", 0)),
        op(2, 20, 21, "read", result=("b", 1)),
    ]
    assert check(history).ok


def test_unknown_write_that_never_shows_up_is_linearizable() -> None:
    history = [
        op(1, 0, 1, "create", "a", "ok"),
        op(1, 2, None, "write", "b"),
        op(2, 3, 4, "read", result=("a", 0)),
        op(2, 20, 21, "write", "c", 1),
        op(2, 22, 23, "read", result=("c", 1)),
    ]
    assert check(history).ok


def test_unknown_write_seen_before_its_call_fails() -> None:
    history = [
        op(1, 0, 1, "create", "a", "ok"),
        op(2, 2, 3, "read", result=("b", 1)),
        op(1, 4, None, "write", "b"),
    ]
    assert_fails(history)


def test_unknown_read_is_ignored() -> None:
    history = [op(1, 0, 1, "create", "a", "ok"), op(2, 2, None, "read", result=(NEVER, 7))]
    assert check(history).ok


def test_create_and_delete_semantics() -> None:
    history = [
        op(1, 0, 1, "write", "x", "NoNode"),
        op(1, 2, 3, "cas", (0, "x"), "NoNode"),
        op(1, 4, 5, "delete", result="NoNode"),
        op(1, 6, 7, "create", "a", "ok"),
        op(2, 8, 9, "create", "b", "NodeExists"),
        op(2, 10, 11, "write", "c", 1),
        op(2, 12, 13, "delete", result="ok"),
        op(1, 14, 15, "read", result=None),
        op(1, 16, 17, "create", "d", "ok"),  # a new node starts again at version 0
        op(2, 18, 19, "read", result=("d", 0)),
    ]
    assert check(history).ok


@pytest.mark.parametrize(
    "history",
    [
        # Two concurrent creates cannot both succeed.
        [op(1, 0, 2, "create", "a", "ok"), op(2, 1, 3, "create", "b", "ok")],
        # A create after a completed delete cannot find the node still there.
        [
            op(1, 0, 1, "create", "a", "ok"),
            op(1, 2, 3, "delete", result="ok"),
            op(2, 4, 5, "create", "b", "NodeExists"),
        ],
        # A write to a key that exists cannot report NoNode.
        [op(1, 0, 1, "create", "a", "ok"), op(2, 2, 3, "write", "b", "NoNode")],
    ],
)
def test_create_and_delete_anomalies_fail(history: list[Op]) -> None:
    assert_fails(history)


def test_initial_state_applies_to_every_key() -> None:
    history = [
        op(1, 0, 1, "read", result=("init", 3), key="a"),
        op(1, 2, 3, "write", "x", 4, key="b"),
    ]
    assert check(history, initial=("init", 3)).ok
    assert not check(history).ok


def test_results_from_json_lists_compare_as_tuples() -> None:
    history = [
        op(1, 0, 1, "create", ["a", 1], "ok"),
        op(2, 2, 3, "read", result=[["a", 1], 0]),
        op(2, 4, 5, "cas", [0, "b"], 1),
    ]
    assert check(history).ok


def test_only_the_bad_key_is_reported() -> None:
    good = simulate(random.Random(1), 60, 4, key="good")
    bad = [
        op(1, 0, 1, "create", "a", "ok", key="bad"),
        op(1, 2, 3, "write", "b", 1, key="bad"),
        op(2, 4, 5, "read", result=("a", 0), key="bad"),
    ]
    assert_fails(good + bad + simulate(random.Random(2), 60, 4, key="other"), key="bad")


def test_witness_drops_irrelevant_reads_and_later_ops() -> None:
    rng = random.Random(3)
    create, write = op(1, 0, 1, "create", "a", "ok"), op(1, 40, 41, "write", "b", 1)
    stale = op(2, 42, 43, "read", result=("a", 0))
    history = [create, write, stale, op(3, 42.5, 44, "read", result=("b", 1))]
    history += [op(rng.randrange(5), 2 + i, 2.5 + i, "read", result=("a", 0)) for i in range(30)]
    history += [op(1, 50 + i, 50.5 + i, "write", f"w{i}", 2 + i) for i in range(30)]
    result = check(history)
    assert not result.ok
    assert set(result.witness) == {create, write, stale}
    text = str(result)
    assert "key 'k' is not linearizable; witness: 3 of its 64 ops" in text
    assert "client   2 [42.000000, 43.000000] read -> ('a', 0)" in text


def test_unknown_outcome_is_shown_in_the_witness() -> None:
    # Once a read saw b, a later read cannot see a again.
    history = [
        op(1, 0, 1, "create", "a", "ok"),
        op(1, 2, None, "write", "b"),
        op(2, 3, 4, "read", result=("b", 1)),
        op(2, 5, 6, "read", result=("a", 0)),
    ]
    assert_fails(history)
    assert "client   1 [2.000000, ?] write 'b' -> unknown" in str(check(history))


def test_a_long_witness_prints_its_end() -> None:
    history = [op(1, 0, 1, "create", "a", "ok")]
    history += [op(1, 2 + i, 2.5 + i, "write", f"w{i}", 1 + i) for i in range(50)]
    history.append(op(2, 60, 61, "read", result=("a", 0)))
    lines = str(check(history)).splitlines()
    assert lines[1] == "  ... 12 earlier ops, in Result.witness"
    assert len(lines) == 42
    assert lines[-1].endswith("read -> ('a', 0)")


def test_search_budget_is_reported_not_passed() -> None:
    history = simulate(random.Random(4), 200, 10)
    with pytest.raises(CheckInconclusive, match="key 'k'"):
        check(history, max_states=10)


def test_malformed_ops_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown op kind"):
        check([op(1, 0, 1, "append", "a", "ok")])
    with pytest.raises(ValueError, match="returns before its call"):
        check([op(1, 2, 1, "read")])
    with pytest.raises(ValueError, match="cas takes"):
        check([op(1, 0, 1, "cas", "a", 1)])


# -- random histories ----------------------------------------------------------

KIND_WEIGHTS = {"read": 8, "write": 5, "cas": 3, "create": 1, "delete": 1}


def simulate(
    rng: random.Random,
    n_ops: int,
    clients: int,
    *,
    key: str = "k",
    unknown: float = 0.05,
    integer_times: bool = False,
    values: int | None = None,
) -> list[Op]:
    """A history a real register could produce: each client runs ops one after
    another, and each op takes effect at a random instant inside its interval.
    An op of unknown outcome took effect or not, at random. Values are unique,
    as in Jepsen, unless drawn from `values` distinct ones.
    """

    def delay() -> float:
        return rng.randint(0, 2) if integer_times else rng.random()

    planned: list[tuple[float, float, float, int, str]] = []  # (effect, call, ret, ...)
    for client in range(clients):
        t = delay()
        for _ in range(n_ops // clients + (client < n_ops % clients)):
            call = t
            effect = call + delay()
            ret = effect + delay()
            t = ret + 1 + delay()
            kind = rng.choices(list(KIND_WEIGHTS), list(KIND_WEIGHTS.values()))[0]
            planned.append((effect, call, ret, client, kind))
    planned.sort()

    state: State = None
    history = []
    for i, (_, call, ret, client, kind) in enumerate(planned):
        arg: object = None if kind in ("read", "delete") else f"v{i}"
        if values is not None and arg is not None:
            arg = f"v{rng.randrange(values)}"
        if kind == "cas":
            right = state is not None and rng.random() < 0.7
            arg = (state[1] if state is not None and right else rng.randint(0, 3), arg)
        result, new_state = step(state, kind, arg)
        lost = rng.random() < unknown
        if not lost or rng.random() < 0.5:
            state = new_state
        history.append(Op(client, call, None if lost else ret, kind, key, arg, result))
    return history


def corrupt_a_read(rng: random.Random, history: list[Op]) -> list[Op] | None:
    """Make one completed read return a value nobody wrote (None if no read)."""
    reads = [i for i, o in enumerate(history) if o.kind == "read" and o.ret is not None]
    if not reads:
        return None
    i = rng.choice(reads)
    return [*history[:i], replace(history[i], result=(NEVER, 0)), *history[i + 1 :]]


@pytest.mark.parametrize("seed", range(40))
def test_random_register_histories_pass_and_corruptions_fail(seed: int) -> None:
    rng = random.Random(seed)
    history = simulate(rng, rng.randint(5, 150), rng.randint(1, 8))
    assert check(history).ok
    corrupted = corrupt_a_read(rng, history)
    if corrupted is not None:
        assert_fails(corrupted)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("seed", range(2))
def test_two_thousand_ops_ten_clients(seed: int) -> None:
    rng = random.Random(100 + seed)
    assert check(simulate(rng, 2000, 10, unknown=0.1)).ok
    history = simulate(rng, 2000, 10, unknown=0.01)
    assert check(history).ok
    corrupted = corrupt_a_read(rng, history)
    assert corrupted is not None
    assert_fails(corrupted)


def brute_force(ops: Sequence[Op], initial: State = None) -> bool:
    """Reference: try every order that respects real time (calls before returns
    on ties), each unknown-outcome op placed anywhere after its call or never."""
    ops = [o for o in ops if not (o.ret is None and o.kind == "read")]

    def search(left: frozenset[int], state: State) -> bool:
        if all(ops[k].ret is None for k in left):
            return True
        for k in left:
            if any(ops[j].ret is not None and ops[j].ret < ops[k].call for j in left):
                continue
            result, new_state = step(state, ops[k].kind, ops[k].arg)
            if (ops[k].ret is None or result == ops[k].result) and search(left - {k}, new_state):
                return True
        return False

    return search(frozenset(range(len(ops))), initial)


def mutate(rng: random.Random, history: list[Op]) -> list[Op]:
    """Replace one op's result with another plausible one: sometimes still linearizable."""
    i = rng.randrange(len(history))
    plausible = {
        "read": [None, ("v0", 0), ("v1", 1), ("v2", 1), ("v3", 2)],
        "write": [0, 1, 2, "NoNode"],
        "cas": [1, 2, "BadVersion", "NoNode"],
        "create": ["ok", "NodeExists"],
        "delete": ["ok", "NoNode"],
    }[history[i].kind]
    mutated = replace(history[i], result=rng.choice(plausible))
    return [*history[:i], mutated, *history[i + 1 :]]


def test_agrees_with_exhaustive_search_on_small_histories() -> None:
    rng = random.Random(5)
    verdicts = {True: 0, False: 0}
    for _ in range(4000):
        size, clients, unknown = rng.randint(1, 9), rng.randint(1, 4), rng.choice([0.1, 0.5])
        values = rng.choice([None, 2])
        history = simulate(rng, size, clients, unknown=unknown, integer_times=True, values=values)
        if rng.random() < 0.6:
            history = mutate(rng, history)
        expected = brute_force(history)
        assert check(history).ok == expected, history
        verdicts[expected] += 1
    assert min(verdicts.values()) > 1000  # both verdicts well exercised
