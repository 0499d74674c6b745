"""Run uniqids as the plugin writes them, and a computer port's type, number and speed as the
plugin's import sets them (issue 13). No database."""

from __future__ import annotations

import os
import re
import time

from fusion_bridge.services.inventory import ports as P
from fusion_bridge.services.runs import new_uniqid


def test_uniqids_have_the_plugins_13_hex_digits_starting_with_the_time():
    before = int(time.time())
    made = [new_uniqid() for _ in range(100_000)]
    after = int(time.time())
    assert all(re.fullmatch(r"[0-9a-f]{13}", uniqid) for uniqid in made)
    assert before <= int(made[0][:8], 16) <= int(made[-1][:8], 16) <= after
    # 100,000 in a row (more than the bridge prepares in a second) never repeat.
    assert len(set(made)) == len(made)


def test_a_forked_process_draws_its_own_uniqids():
    """gunicorn workers and the scheduler are forks of one process: a child must not continue
    its parent's sequence (it starts its own at a random point: one chance in 2^20 to meet)."""
    last = new_uniqid()  # the parent's counter is set up before the fork
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first id through the pipe, then leave at once
        os.close(read)
        os.write(write, new_uniqid().encode())
        os._exit(0)
    os.close(write)
    parent_next = new_uniqid()
    with os.fdopen(read) as pipe:
        child_first = pipe.read()
    os.waitpid(pid, 0)
    assert int(parent_next[8:], 16) == (int(last[8:], 16) + 1) % (1 << 20)
    assert len(child_first) == 13 and child_first[8:] != parent_next[8:]


def test_computer_port_types_as_the_plugin():
    assert P.computer_port_type("Ethernet", None) == P.ETHERNET
    # The agent's lower-case "ethernet" and "loopback" do not match: the MAC decides.
    assert P.computer_port_type("loopback", "00:00:00:00:00:00") == P.ETHERNET
    assert P.computer_port_type("ethernet", None) == P.LOCAL
    assert P.computer_port_type("wifi", "02:00:00:00:00:01") == P.WIFI
    assert P.computer_port_type("IEEE", None) == P.WIFI
    assert P.computer_port_type("fiberchannel", None) == P.FIBERCHANNEL
    assert P.computer_port_type(None, "02:00:00:00:00:01", wwn="5001438001234567") == P.FIBERCHANNEL
    assert P.computer_port_type(None, None) == P.LOCAL


def test_computer_port_numbers_and_speeds_as_the_plugin():
    assert [P.computer_port_number(v) for v in ("1", "0", None, "", " 1 ")] == [0, 1, 1, 1, 0]
    assert [P.computer_port_speed(v) for v in ("1000", "-1", None, "", "100 Mb/s", "100000", "100001",
                                               "10000000000", "٣")] == [1000, 0, 0, 0, 0, 100000, 0, 10000, 0]
