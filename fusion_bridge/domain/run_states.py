"""A run's life (``taskjobstates.state``): its named groups of states and the one table of the
moves allowed between them. Pure: no database; ``fusion_bridge.services.runs`` applies the moves.

The states are the plugin's (``PluginFusioninventoryTaskjobstate``): Prepared 0, Server has sent
data 1, Agent has sent data 2, Finished 3, Error 4, Cancelled 5, Postponed 6.
"""

from __future__ import annotations

from enum import Enum

from schema.constants import TaskjobLogState as Log, TaskjobState as State

PREPARED = int(State.PREPARED)
SENT = int(State.SERVER_HAS_SENT_DATA)
AGENT_SENT = int(State.AGENT_HAS_SENT_DATA)
FINISHED = int(State.FINISHED)
IN_ERROR = int(State.IN_ERROR)
CANCELLED = int(State.CANCELLED)
POSTPONED = int(State.POSTPONED)

# The groups every module uses (plain ints: they go into SQL as they are).
# Still to be done by its agent: a run in one of these is "live" (handed out at most once, then
# reported on, finished, failed or cancelled; cancelled when its agent or target leaves the job).
ACTIVE = (PREPARED, SENT, AGENT_SENT)
# Handed to the agent (by PROLOG or getJobs) and not over: what the agent may report on.
HANDED_OUT = (SENT, AGENT_SENT)
# Not over: live or put off by the user. Blocks a new run of its (target, agent) pair; kept by
# the retention cleanup.
ACTIVE_OR_POSTPONED = ACTIVE + (POSTPONED,)
# Over for good: no move leaves these.
ENDED = (FINISHED, IN_ERROR, CANCELLED)
# Over without success: what load balancing looks at to re-run a unit elsewhere.
FAILED_OR_CANCELLED = (IN_ERROR, CANCELLED)
# Over after the agent ran it (not cancelled): within a managed task's execution such a run
# blocks preparing its pair again.
FINISHED_OR_FAILED = (FINISHED, IN_ERROR)
# The state of a new run.
NEW = PREPARED


class Move(str, Enum):
    """What happens to a run; each leads to one state (``target``)."""

    HAND_OUT = "hand out"  # the server sends the job to its agent (PROLOG OPTION, getJobs)
    AGENT_REPORTS = "record the agent's report"  # the agent sent data about it
    FINISH = "finish"
    FAIL = "fail"
    CANCEL = "cancel"
    POSTPONE = "postpone"  # the user put a deploy off
    REOFFER = "offer again"  # a postponed deploy is prepared again for a later start

    def __str__(self) -> str:
        return self.value


# The one table of a run's life: from state -> {move: to state}. A move not listed is illegal.
TRANSITIONS: dict[int, dict[Move, int]] = {
    PREPARED: {Move.HAND_OUT: SENT, Move.AGENT_REPORTS: AGENT_SENT, Move.FINISH: FINISHED,
               Move.FAIL: IN_ERROR, Move.CANCEL: CANCELLED},
    SENT: {Move.AGENT_REPORTS: AGENT_SENT, Move.FINISH: FINISHED, Move.FAIL: IN_ERROR,
           Move.CANCEL: CANCELLED, Move.POSTPONE: POSTPONED},
    AGENT_SENT: {Move.AGENT_REPORTS: AGENT_SENT, Move.FINISH: FINISHED, Move.FAIL: IN_ERROR,
                 Move.CANCEL: CANCELLED, Move.POSTPONE: POSTPONED},
    FINISHED: {},
    IN_ERROR: {},
    CANCELLED: {},
    POSTPONED: {Move.REOFFER: PREPARED},
}

# The log line (``taskjoblogs.state``) each move writes, as the plugin does; None: the move
# writes none of its own (the caller logs what the agent reported, or the retry lines).
MOVE_LOG: dict[Move, int | None] = {
    Move.HAND_OUT: int(Log.STARTED),
    Move.AGENT_REPORTS: None,
    Move.FINISH: int(Log.OK),
    Move.FAIL: int(Log.ERROR),
    Move.CANCEL: int(Log.INFO),
    Move.POSTPONE: int(Log.INFO),
    Move.REOFFER: None,
}


def state_name(state: int) -> str:
    try:
        return f"{State(state).label} ({int(state)})"
    except ValueError:
        return f"unknown state {state!r}"


class IllegalTransition(Exception):
    """A move the table does not allow from the run's state: a fault of the calling code."""

    def __init__(self, run_id: int | None, from_state: int, move: Move):
        self.run_id = run_id
        self.from_state = from_state
        self.move = move
        self.to_state = target(move)
        which = "a run" if run_id is None else f"run {run_id}"
        super().__init__(f"cannot {move} {which} in state {state_name(from_state)}: "
                         f"{state_name(from_state)} -> {state_name(self.to_state)} is not a legal move")


def _targets() -> dict[Move, int]:
    found: dict[Move, int] = {}
    for moves in TRANSITIONS.values():
        for move, to_state in moves.items():
            if found.setdefault(move, to_state) != to_state:
                raise AssertionError(f"{move} leads to two states")
    return found


_TARGET = _targets()
_SOURCES = {move: tuple(sorted(s for s, moves in TRANSITIONS.items() if move in moves)) for move in Move}


def target(move: Move) -> int:
    """The state ``move`` leads to."""
    return _TARGET[move]


def sources(move: Move) -> tuple[int, ...]:
    """Every state ``move`` may leave from, in order."""
    return _SOURCES[move]


def next_state(from_state: int, move: Move, run_id: int | None = None) -> int:
    """The state after ``move`` from ``from_state``; IllegalTransition when not allowed."""
    to_state = TRANSITIONS.get(from_state, {}).get(move)
    if to_state is None:
        raise IllegalTransition(run_id, from_state, move)
    return to_state


def guard(move: Move, only_from: tuple[int, ...] | None = None, run_id: int | None = None) -> tuple[int, ...]:
    """The from-states of a conditional UPDATE doing ``move``: all the table allows, or the
    caller's narrower ``only_from`` — every one of which must be allowed (IllegalTransition)."""
    if only_from is None:
        return sources(move)
    for state in only_from:
        next_state(state, move, run_id)
    return tuple(sorted({int(state) for state in only_from}))
