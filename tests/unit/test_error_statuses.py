"""The one table from what happened to an HTTP status (``http/errors.py``): every error the
services raise has its status, the reason is the error's own, and what is not a refusal is a
5xx that says nothing of the cause."""

from __future__ import annotations

import inspect

import pytest
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import MethodNotAllowed, RequestEntityTooLarge

import protocol
from fusion_bridge import errors
from fusion_bridge.http.errors import INTERNAL_ERROR, Failure, failure_of

DOMAIN_ERRORS = [cls for _, cls in inspect.getmembers(errors, inspect.isclass)
                 if issubclass(cls, errors.DomainError) and cls is not errors.DomainError]


@pytest.mark.parametrize("error, status", [
    (errors.InvalidRequest("missing uuid"), 400),
    (errors.DefinitionError("task name is required"), 400),
    (errors.UnknownAgent("pc-2026"), 400),  # the plugin's answer to an unknown or locked agent
    (errors.UnknownRun("PROCESSNUMBER 2 is not a networkdiscovery run of this agent"), 400),
    (errors.NotYours("wrong token for this job"), 403),
    (errors.NotFound("task 9 does not exist"), 404),
    (errors.Conflict("the collect of this job no longer exists"), 409),
    (errors.NotHandedOut("this ESX job was not handed out or is already over"), 409),
    (errors.Unavailable("deploy repository unavailable: No space left on device"), 503),
    (protocol.ProtocolError("body is not XML"), 400),
    (protocol.BodyTooLarge("body larger than 10 bytes"), 413),
])
def test_each_error_has_its_status_and_its_own_reason(error, status):
    assert failure_of(error) == Failure(status, error.reason)


def test_every_domain_error_is_in_the_table():
    assert errors.NotHandedOut in DOMAIN_ERRORS and len(DOMAIN_ERRORS) >= 9
    for cls in DOMAIN_ERRORS:
        error = cls("pc-2026") if cls is errors.UnknownAgent else cls("why")
        assert failure_of(error).status != 500, cls


def test_the_log_may_say_more_than_the_client_reads():
    error = errors.UnknownAgent("pc-2026")
    assert error.reason == "unknown or locked agent" and "pc-2026" in error.detail


def test_database_errors_and_bugs_say_nothing_of_their_cause():
    database = OperationalError("SELECT 1", {}, Exception("password=hunter2"))
    assert failure_of(database) == Failure(503, "database unavailable (database error), try again later")
    assert failure_of(RuntimeError("secret")) == Failure(500, INTERNAL_ERROR)
    assert failure_of(KeyError("x")) == Failure(500, INTERNAL_ERROR)


def test_werkzeug_refusals_keep_their_status_name_and_sentence():
    assert failure_of(RequestEntityTooLarge()) == Failure(413, "Request Entity Too Large",
                                                          RequestEntityTooLarge.description)
    assert failure_of(MethodNotAllowed()).status == 405
