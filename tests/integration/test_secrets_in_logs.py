"""No secret in a log line or an error message (issue 10, item 4).

A write of an SNMP credential is made to fail by the database itself (a trigger refuses the
insert, as a constraint or a full disk would): SQLAlchemy's text of such an error carries the
statement's parameters, and the driver's message may quote values. Neither the server's log, nor
its answer, nor the command line's output may then show the community or the passphrases."""

from __future__ import annotations

import contextlib
import logging
import traceback

import pytest
from click.testing import CliRunner

import schema
from fusion_bridge.app import create_app
from fusion_bridge.adapters.db import is_mysql
from fusion_bridge.cli.main import main

COMMUNITY = "c0mmunity-Secret-7f3a"
AUTH_PASSPHRASE = "auth-Passphrase-91be"
PRIV_PASSPHRASE = "priv-Passphrase-c2d4"
SECRETS = (COMMUNITY, AUTH_PASSPHRASE, PRIV_PASSPHRASE)
TOKEN = "0123456789abcdef-admin"


@contextlib.contextmanager
def inserts_refused(engine, table):
    """A trigger that makes the database refuse every insert into ``table``."""
    with engine.begin() as conn:
        if is_mysql(conn):
            conn.exec_driver_sql(f"CREATE TRIGGER fb_refuse BEFORE INSERT ON {table.name} FOR EACH ROW "
                                 "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused by a test trigger'")
        else:
            conn.exec_driver_sql(f"CREATE TRIGGER fb_refuse BEFORE INSERT ON {table.name} "
                                 "BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END")
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER fb_refuse")


def logged_text(records) -> str:
    """Everything the log handlers were given: messages, tracebacks and their exceptions."""
    parts = []
    for record in records:
        parts.append(record.getMessage())
        if record.exc_info:
            parts.append("".join(traceback.format_exception(*record.exc_info)))
        if record.exc_text:
            parts.append(record.exc_text)
    return "\n".join(parts)


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


@pytest.mark.parametrize("version, options", [
    ("2c", ["--community", COMMUNITY]),
    ("3", ["--username", "admin", "--auth-protocol", "SHA", "--auth-passphrase", AUTH_PASSPHRASE,
           "--priv-protocol", "AES", "--priv-passphrase", PRIV_PASSPHRASE]),
])
def test_command_line(database_url, engine, caplog, version, options):
    caplog.set_level(logging.DEBUG)
    with inserts_refused(engine, schema.configsecurities):
        result = CliRunner().invoke(main, ["credential", "create", "--name", "lan", "--version", version, *options,
                                           "--database", database_url])
    assert result.exit_code != 0
    assert "Error:" in result.output
    assert_no_secret(result.output, result.stderr, logged_text(caplog.records))
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_admin_api(database_url, engine, caplog):
    caplog.set_level(logging.DEBUG)
    app = create_app({"DATABASE_URL": database_url, "SETTINGS_TTL": 0, "ADMIN_TOKEN": TOKEN, "LOG_INTERVAL": 0})
    try:
        with inserts_refused(engine, schema.configsecurities):
            response = app.test_client().post("/api/credentials", headers={"Authorization": f"Bearer {TOKEN}"}, json={
                "name": "lan v3", "version": "3", "username": "admin", "auth_protocol": "SHA",
                "auth_passphrase": AUTH_PASSPHRASE, "priv_protocol": "AES", "priv_passphrase": PRIV_PASSPHRASE})
            v2 = app.test_client().post("/api/credentials", headers={"Authorization": f"Bearer {TOKEN}"},
                                        json={"name": "lan", "version": "2c", "community": COMMUNITY})
    finally:
        app.extensions["fusion_bridge"].dispose()
    assert response.status_code >= 500 and v2.status_code >= 500
    assert [r for r in caplog.records if r.levelno >= logging.ERROR], "the failure is logged"
    assert_no_secret(response.get_data(as_text=True), v2.get_data(as_text=True), logged_text(caplog.records))
