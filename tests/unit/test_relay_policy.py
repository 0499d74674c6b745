"""The relay's pure decisions: what each upstream answer means, back-off, Retry-After, the rate."""

import gzip
import zlib

import pytest

from fusion_bridge.domain.relay_policy import (
    CONNECTING, DELIVERED, FAILED, MAX_RETRY_AFTER, REJECTED, SENT, UNAVAILABLE, Answer, TokenBucket, backoff,
    classify, clean, reply_of, retry_after)

PLUGIN_REPLY = b'<?xml version="1.0" encoding="UTF-8"?>\n<REPLY>\n</REPLY>\n'
GLPI10_REPLY = b'<?xml version="1.0"?>\n<REPLY><RESPONSE>SEND</RESPONSE></REPLY>'
ERROR_REPLY = (b"<?xml version=\"1.0\"?>\n"
               b"<REPLY><ERROR><![CDATA[Plugin FusionInventory not installed!]]></ERROR></REPLY>")


@pytest.mark.parametrize("body", [PLUGIN_REPLY, zlib.compress(PLUGIN_REPLY, 6), gzip.compress(PLUGIN_REPLY),
                                  GLPI10_REPLY, zlib.compress(GLPI10_REPLY)])
def test_a_reply_without_error_in_any_encoding_is_delivered(body):
    assert classify(Answer(200, body)).kind == DELIVERED
    assert classify(Answer(201, body)).kind == DELIVERED


@pytest.mark.parametrize("status", [200, 400, 500])
def test_an_error_reply_is_a_rejection_with_the_upstreams_reason(status):
    verdict = classify(Answer(status, zlib.compress(ERROR_REPLY)))
    assert verdict.kind == REJECTED and verdict.status == status
    assert "Plugin FusionInventory not installed!" in verdict.reason
    assert not verdict.upstream_unwell


@pytest.mark.parametrize("status, kind", [
    (400, REJECTED), (401, REJECTED), (403, REJECTED), (404, REJECTED), (413, REJECTED), (301, REJECTED),
    (408, UNAVAILABLE), (429, UNAVAILABLE), (502, UNAVAILABLE), (503, UNAVAILABLE), (504, UNAVAILABLE),
    (500, FAILED), (501, FAILED), (507, FAILED),
])
def test_statuses(status, kind):
    verdict = classify(Answer(status, b"<html>oops</html>", {"Location": "https://glpi/"}))
    assert verdict.kind == kind
    assert str(status) in verdict.reason
    assert verdict.upstream_unwell == (kind in (UNAVAILABLE, FAILED))


def test_a_2xx_that_is_not_a_reply_means_the_url_is_wrong_and_nothing_is_lost():
    verdict = classify(Answer(200, b"<html><body>GLPI login</body></html>"))
    assert verdict.kind == UNAVAILABLE and "without a REPLY" in verdict.reason and "GLPI login" in verdict.reason
    assert classify(Answer(200, b"")).kind == UNAVAILABLE
    assert classify(Answer(200, b"<!DOCTYPE x [<!ENTITY a 'b'>]><REPLY>&a;</REPLY>")).kind == UNAVAILABLE


def test_transport_errors_before_and_after_sending():
    before = classify(Answer(error="connection to 127.0.0.1:9 refused", stage=CONNECTING))
    after = classify(Answer(error="no answer within 30 s", stage=SENT))
    assert (before.kind, before.reason, before.status) == (UNAVAILABLE, "connection to 127.0.0.1:9 refused", None)
    assert (after.kind, after.reason) == (FAILED, "no answer within 30 s")


def test_retry_after_seconds_and_dates():
    now = 1_700_000_000.0
    assert classify(Answer(429, b"", {"Retry-After": "7"}), now).retry_after == 7
    assert classify(Answer(503, b"", {"retry-after": "Tue, 14 Nov 2023 22:31:20 GMT"}), now).retry_after == 1080
    assert classify(Answer(429, b"")).retry_after is None
    assert retry_after("99999999", now) == MAX_RETRY_AFTER
    assert retry_after("Mon, 01 Jan 2001 00:00:00 GMT", now) == 0
    assert retry_after("soon", now) is None


def test_backoff_grows_exponentially_is_capped_and_jittered():
    assert backoff(0, 2, 300) == 0
    assert [backoff(n, 2, 300, rand=lambda: 1.0) for n in range(1, 10)] == [2, 4, 8, 16, 32, 64, 128, 256, 300]
    assert [backoff(n, 2, 300, rand=lambda: 0.0) for n in (1, 4, 9)] == [1, 8, 150]
    assert backoff(10_000, 2, 300, rand=lambda: 1.0) == 300


def test_reply_of_reads_the_error_text():
    assert reply_of(PLUGIN_REPLY) == (None, True)
    assert reply_of(ERROR_REPLY) == ("Plugin FusionInventory not installed!", True)
    assert reply_of(b"<REQUEST/>") == (None, False)
    assert reply_of(b"\x78\x9cjunk") == (None, False)


def test_reasons_are_one_printable_bounded_line():
    assert clean("a\nb\x00\tc") == "a b c"
    assert len(clean("x" * 2000)) == 500


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_token_bucket_paces_sends_and_takes_back_unused_ones():
    clock = FakeClock()
    bucket = TokenBucket(per_minute=60, burst=1, clock=clock)  # one a second
    assert bucket.reserve() == 0
    assert bucket.reserve() == pytest.approx(1.0)
    assert bucket.reserve() == pytest.approx(2.0)  # booked behind the previous one
    clock.now = 10.0
    assert bucket.reserve() == 0
    bucket.cancel()
    assert bucket.reserve() == 0


def test_token_bucket_without_rate_never_waits():
    bucket = TokenBucket(per_minute=0)
    assert all(bucket.reserve() == 0 for _ in range(1000))
