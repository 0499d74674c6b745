"""Agent HTTP Basic authentication (fusion_bridge/http/agent_auth.py), against htpasswd -B lines."""

import base64
import logging
import os

import bcrypt
import pytest

from fusion_bridge.http import agent_auth
from fusion_bridge.http.agent_auth import AgentAuth, Htpasswd, RefusalLog, basic_credentials

# Written by Apache's `htpasswd -nbB -C 5 agent s3cret` (apache2-utils 2.4): a $2y$ hash.
APACHE_LINE = "agent:$2y$05$7VTH8QI.RcBWO7Xo3slNre0HLt.p1wfz9aN89EOYEaXu5xD1JFm.."


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def call(app, path="/plugins/fusioninventory/", authorization=None):
    environ = {"PATH_INFO": path, "REMOTE_ADDR": "192.0.2.1", "REQUEST_METHOD": "POST"}
    if authorization:
        environ["HTTP_AUTHORIZATION"] = authorization
    answer = {}

    def start_response(status, headers):
        answer["status"], answer["headers"] = status, dict(headers)

    body = b"".join(app(environ, start_response))
    return answer["status"], answer["headers"], body


def inner(environ, start_response):
    start_response("200 OK", [])
    return [b"inner"]


@pytest.fixture
def htfile(tmp_path):
    path = tmp_path / "agents.htpasswd"
    path.write_text(f"# agents\n{APACHE_LINE}\nold:$apr1$abc$def\n")
    return path


def test_apache_2y_hash_accepted():
    hashed = APACHE_LINE.split(":", 1)[1].encode()
    assert bcrypt.checkpw(b"s3cret", hashed) and not bcrypt.checkpw(b"s3creT", hashed)


def test_read_htpasswd_keeps_bcrypt_only(htfile, caplog):
    with caplog.at_level(logging.WARNING):
        users = agent_auth.read_htpasswd(str(htfile))
    assert list(users) == ["agent"]
    assert "user 'old'" in caplog.text and "only bcrypt" in caplog.text


def test_basic_credentials():
    assert basic_credentials(basic("a", "b:c")) == ("a", "b:c")
    assert basic_credentials("Bearer x") is None
    assert basic_credentials("Basic !!!") is None
    assert basic_credentials("Basic " + base64.b64encode(b"nocolon").decode()) is None


def test_challenge_exactly_as_the_agent_reads_it(htfile):
    app = AgentAuth(inner, Htpasswd(str(htfile)), 'fusion "bridge"')
    status, headers, body = call(app)
    assert status == "401 Unauthorized"
    assert headers["WWW-Authenticate"] == 'Basic realm="fusion bridge"'
    assert body == b'{"error":"authentication required"}'


@pytest.mark.parametrize("path", ["/plugins/fusioninventory/", "/glpi/plugins/fusioninventory/front/communication.php",
                                  "/ocsinventory", "/plugins/fusioninventory/b/deploy/", "/x/plugins/fusioninventory/b/esx",
                                  "/plugins/fusioninventory/b/collect/"])
def test_agent_paths_protected(htfile, path):
    app = AgentAuth(inner, Htpasswd(str(htfile)), "r")
    assert call(app, path)[0] == "401 Unauthorized"
    assert call(app, path, basic("agent", "s3cret"))[2] == b"inner"


def test_other_paths_untouched(htfile):
    app = AgentAuth(inner, Htpasswd(str(htfile)), "r")
    assert call(app, "/api/tasks")[2] == b"inner"
    assert call(app, "/plugins/fusioninventory/b/other/")[2] == b"inner"


def test_verdicts_cached_so_bcrypt_runs_once(htfile, monkeypatch):
    clock = Clock()
    app = AgentAuth(inner, Htpasswd(str(htfile), clock), "r", clock=clock)
    checks = []
    real = bcrypt.checkpw
    monkeypatch.setattr(agent_auth.bcrypt, "checkpw", lambda *a: checks.append(1) or real(*a))
    for _ in range(5):
        assert call(app, authorization=basic("agent", "s3cret"))[2] == b"inner"
    assert len(checks) == 1
    clock.now += agent_auth.CACHE_SECONDS + 1
    assert call(app, authorization=basic("agent", "s3cret"))[2] == b"inner"
    assert len(checks) == 2


def test_file_change_reread_and_forgets_verdicts(htfile):
    clock = Clock()
    app = AgentAuth(inner, Htpasswd(str(htfile), clock), "r", clock=clock)
    assert call(app, authorization=basic("agent", "s3cret"))[2] == b"inner"
    new_hash = bcrypt.hashpw(b"other", bcrypt.gensalt(4)).decode()
    htfile.write_text(f"agent:{new_hash}\n")
    stat = os.stat(htfile)
    os.utime(htfile, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    clock.now += agent_auth.STAT_INTERVAL + 0.1
    assert call(app, authorization=basic("agent", "s3cret"))[0] == "401 Unauthorized"
    assert call(app, authorization=basic("agent", "other"))[2] == b"inner"


def test_missing_file_at_start_is_an_error(tmp_path):
    with pytest.raises(OSError):
        Htpasswd(str(tmp_path / "none"))


def test_wrong_credentials_logged_once_per_interval_with_count(htfile, caplog):
    clock = Clock()
    app = AgentAuth(inner, Htpasswd(str(htfile), clock), "r", clock=clock,
                    refusals=RefusalLog(interval=60, clock=clock))
    with caplog.at_level(logging.WARNING, logger="fusion_bridge.http.agent_auth"):
        for password in ("a", "b", "c", "a"):
            assert call(app, authorization=basic("agent", password))[0] == "401 Unauthorized"
        assert call(app, authorization=basic("nobody", "x"))[0] == "401 Unauthorized"
        clock.now += 61
        assert call(app, authorization=basic("agent", "d"))[0] == "401 Unauthorized"
    lines = [r.getMessage() for r in caplog.records if "authentication failed" in r.getMessage()]
    assert len(lines) == 2
    assert "1 request(s)" in lines[0] and "'agent' from 192.0.2.1" in lines[0]
    assert "5 request(s)" in lines[1]
    assert not any(secret in text for text in lines for secret in ("s3cret", "'a'", "'d'"))


def test_overlong_password_refused_not_crashed(htfile):
    app = AgentAuth(inner, Htpasswd(str(htfile)), "r")
    assert call(app, authorization=basic("agent", "x" * 100))[0] == "401 Unauthorized"
