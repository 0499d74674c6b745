"""The package JSON the admin side stores (``deploy_content``) read back by the wire side's
``getJobs`` (``deploy_order.build_job``): the agent must get the command exactly as typed."""

from __future__ import annotations

import pytest

from fusion_bridge.services.deploy import content
from fusion_bridge.domain.deploy_order import build_job

TYPED_COMMANDS = [
    "sha512sum < payload.bin > sums.txt 2>&1",
    'wget -q "http://files.example/get?id=1&param=2&copy=3&notify=1" -O setup.sh',
    "echo 'a &amp; b' && echo done",
    "printf '%s\\n' \"&#39;quoted&#39;\" && true",
    "msiexec /i app.msi /qn & exit /b 0",
]


def job_for(command: str) -> dict:
    jobs = content.new_order()["jobs"]
    jobs["actions"].append(content.action_entry({"type": "cmd", "exec": command, "name": "run it"}))
    return build_job(jobs, "uuid-1", "2.8", 0, 0, {})


# (A typed `&lt;` cannot survive: GLPI stores it as is and decodes it to `<`, as `<` itself.)
@pytest.mark.parametrize("command", TYPED_COMMANDS)
def test_a_command_stored_by_the_admin_side_reaches_the_agent_as_typed(command):
    stored = content.action_entry({"type": "cmd", "exec": command})["cmd"]["exec"]
    assert "<" not in stored and ">" not in stored  # GLPI 9.5's sanitising, as the UI stores it
    assert job_for(command)["actions"][0]["cmd"]["exec"] == command


def test_only_the_sanitised_brackets_are_decoded_as_the_plugin_does():
    # GLPI 9.5's unclean_cross_side_scripting_deep: `&lt;` and `&gt;` only, no HTML decoding.
    jobs = {"checks": [], "associatedFiles": [], "userinteractions": [],
            "actions": [{"cmd": {"exec": "a &gt;&amp;2 &lt;x&gt; ?b=1&param=2 &quot;c&quot; &#60;"}}]}
    [action] = build_job(jobs, "u", "2.8", 0, 0, {})["actions"]
    assert action["cmd"]["exec"] == "a >&amp;2 <x> ?b=1&param=2 &quot;c&quot; &#60;"
