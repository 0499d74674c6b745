"""The table of a run's life (``fusion_bridge.domain.run_states``): every legal move is allowed,
every other one raises ``IllegalTransition``, and the named groups agree with the table."""

from __future__ import annotations

import itertools

import pytest

from fusion_bridge.domain import run_states as rs
from fusion_bridge.domain.run_states import IllegalTransition, Move
from fusion_bridge.services import runs
from schema.constants import TaskjobLogState as Log, TaskjobState as State

P, S, A, F, E, C, PP = (int(s) for s in State)

# The plugin's life of a run, as the bridge applies it, written out move by move.
LEGAL = {
    (P, Move.HAND_OUT, S),  # PROLOG OPTION, getJobs
    (P, Move.AGENT_REPORTS, A), (S, Move.AGENT_REPORTS, A), (A, Move.AGENT_REPORTS, A),
    (P, Move.FINISH, F), (S, Move.FINISH, F), (A, Move.FINISH, F),  # Wake-on-LAN finishes at once
    (P, Move.FAIL, E), (S, Move.FAIL, E), (A, Move.FAIL, E),
    (P, Move.CANCEL, C), (S, Move.CANCEL, C), (A, Move.CANCEL, C),
    (S, Move.POSTPONE, PP), (A, Move.POSTPONE, PP),  # a deploy the user puts off
    (PP, Move.REOFFER, P),
}
ALL_STATES = [int(s) for s in State]


def test_the_states_are_the_plugins():
    assert (P, S, A, F, E, C, PP) == (0, 1, 2, 3, 4, 5, 6)
    assert (rs.PREPARED, rs.SENT, rs.AGENT_SENT, rs.FINISHED, rs.IN_ERROR, rs.CANCELLED, rs.POSTPONED) == \
        (P, S, A, F, E, C, PP)
    assert set(rs.TRANSITIONS) == set(ALL_STATES)


def test_the_table_is_exactly_the_legal_moves():
    table = {(from_state, move, to_state) for from_state, moves in rs.TRANSITIONS.items()
             for move, to_state in moves.items()}
    assert table == LEGAL


@pytest.mark.parametrize("from_state, move, to_state", sorted(LEGAL))
def test_a_legal_move_is_allowed(from_state, move, to_state):
    assert rs.next_state(from_state, move) == to_state
    assert rs.next_state(State(from_state), move, run_id=7) == to_state
    assert from_state in rs.sources(move)
    assert rs.guard(move, (from_state,)) == (from_state,)


ILLEGAL = sorted({(s, m) for s, m in itertools.product(ALL_STATES, Move)} - {(s, m) for s, m, _ in LEGAL})


@pytest.mark.parametrize("from_state, move", ILLEGAL)
def test_an_illegal_move_raises(from_state, move):
    with pytest.raises(IllegalTransition) as raised:
        rs.next_state(from_state, move, run_id=42)
    error = raised.value
    assert (error.run_id, error.from_state, error.move) == (42, from_state, move)
    assert error.to_state == rs.target(move)
    assert "run 42" in str(error) and State(from_state).label in str(error)
    # A conditional UPDATE may not name it among its from-states either.
    with pytest.raises(IllegalTransition):
        rs.guard(move, (from_state,))
    with pytest.raises(IllegalTransition):
        runs.Batch(when=None).move(42, from_state, move, "comment")


def test_an_unknown_state_has_no_move():
    for move in Move:
        with pytest.raises(IllegalTransition, match="unknown state 9"):
            rs.next_state(9, move)


def test_the_ended_states_have_no_way_out():
    assert [s for s, moves in rs.TRANSITIONS.items() if not moves] == list(rs.ENDED)
    for ended, move in itertools.product(rs.ENDED, Move):
        with pytest.raises(IllegalTransition):
            rs.next_state(ended, move)


def test_each_move_leads_to_one_state():
    for move in Move:
        targets = {moves[move] for moves in rs.TRANSITIONS.values() if move in moves}
        assert targets == {rs.target(move)}
        assert rs.sources(move) == tuple(sorted(s for s, moves in rs.TRANSITIONS.items() if move in moves))


def test_the_groups_agree_with_the_table():
    # Live: what can still finish, fail or be cancelled (and be reported on by the agent).
    for move in (Move.FINISH, Move.FAIL, Move.CANCEL, Move.AGENT_REPORTS):
        assert rs.sources(move) == rs.ACTIVE
    # Handed out: live and past Prepared; what a user can put off.
    assert rs.HANDED_OUT == tuple(s for s in rs.ACTIVE if s != rs.NEW) == rs.sources(Move.POSTPONE)
    assert rs.sources(Move.HAND_OUT) == (rs.NEW,)
    # Postponed only comes back to Prepared.
    assert rs.ACTIVE_OR_POSTPONED == rs.ACTIVE + rs.sources(Move.REOFFER)
    # Every state is live, postponed or ended, exactly once.
    assert sorted(rs.ACTIVE_OR_POSTPONED + rs.ENDED) == ALL_STATES
    assert not set(rs.ACTIVE_OR_POSTPONED) & set(rs.ENDED)
    # The two halves of "ended".
    assert set(rs.FAILED_OR_CANCELLED) | {F} == set(rs.ENDED) == set(rs.FINISHED_OR_FAILED) | {C}
    assert rs.FAILED_OR_CANCELLED == (rs.target(Move.FAIL), rs.target(Move.CANCEL))
    assert rs.FINISHED_OR_FAILED == (rs.target(Move.FINISH), rs.target(Move.FAIL))
    assert rs.NEW == P == rs.target(Move.REOFFER)
    # Plain ints, as SQL gets them.
    for group in (rs.ACTIVE, rs.HANDED_OUT, rs.ACTIVE_OR_POSTPONED, rs.ENDED, rs.FAILED_OR_CANCELLED,
                  rs.FINISHED_OR_FAILED):
        assert all(type(state) is int for state in group)


def test_the_owner_re_exports_the_groups():
    assert (runs.ACTIVE, runs.HANDED_OUT, runs.ACTIVE_OR_POSTPONED, runs.ENDED) == \
        (rs.ACTIVE, rs.HANDED_OUT, rs.ACTIVE_OR_POSTPONED, rs.ENDED)


def test_each_move_writes_the_plugins_log_line():
    assert rs.MOVE_LOG == {Move.HAND_OUT: Log.STARTED, Move.FINISH: Log.OK, Move.FAIL: Log.ERROR,
                           Move.CANCEL: Log.INFO, Move.POSTPONE: Log.INFO,
                           Move.AGENT_REPORTS: None, Move.REOFFER: None}


def test_a_narrower_guard_is_kept_and_a_wider_one_refused():
    assert rs.guard(Move.CANCEL) == rs.ACTIVE
    assert rs.guard(Move.CANCEL, (State.PREPARED,)) == (P,)
    assert rs.guard(Move.CANCEL, (A, S, S)) == (S, A)
    with pytest.raises(IllegalTransition, match="Postponed"):
        rs.guard(Move.CANCEL, rs.ACTIVE_OR_POSTPONED)


def test_a_batch_checks_each_move_before_writing():
    batch = runs.Batch(when=None)
    batch.move(1, P, Move.HAND_OUT, "4 threads 30 timeout")
    batch.log(2, Log.STARTED, "")
    batch.move(2, P, Move.FINISH, "done")
    batch.move(3, S, Move.FAIL, "already sent")
    batch.move(4, A, Move.AGENT_REPORTS, "not logged")
    with pytest.raises(IllegalTransition):
        batch.move(5, C, Move.FAIL, "over")
    assert batch.ids == {Move.HAND_OUT: [1], Move.FINISH: [2], Move.FAIL: [3], Move.AGENT_REPORTS: [4]}
    lines = [(row["plugin_fusioninventory_taskjobstates_id"], row["state"], row["comment"]) for row in batch.logs]
    assert lines == [
        (1, Log.STARTED, "4 threads 30 timeout"), (2, Log.STARTED, ""), (2, Log.OK, "done"),
        (3, Log.ERROR, "already sent")]
