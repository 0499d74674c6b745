"""The Deploy order of one run as the plugin builds it for ``getJobs`` (docs/plugin-semantics.md §7.5).

A package's ``json`` column holds ``{"jobs": {...}, "associatedFiles": {sha512: {...}}}``. The
job handed to the agent is the package's ``jobs`` object, adjusted to the agent's Deploy task
version, plus ``"uuid"`` (the run's uniqid); each file the package describes is sent as its
stored entry plus ``mirrors`` and ``multiparts`` (the part names of the repository manifest).
Pure functions: the caller reads the rows and the repository.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Mapping

from fusion_bridge.services.admin.base import ui_text

# Keys the agent requires in every job (``_validateAnswer``); a package made by GLPI always has
# them, a hand-written one may not, and the agent would then drop the whole answer.
REQUIRED_JOB_KEYS = ("checks", "associatedFiles", "actions")
# Agents before Deploy 2.2 know neither these check results nor user interactions.
OLD_AGENT_CHECK_RETURNS = ("skip", "info", "warning")
USER_INTERACTIONS_SINCE = (2, 2)
# How GLPI stores a line break typed in a user-interaction template's text.
STORED_CRLF = "$#r$#n"


class BadPackage(ValueError):
    """A package definition the agent could not use; the message goes to the run's log."""


def parse_package(raw: str | None) -> tuple[dict, dict]:
    """(jobs object, associatedFiles object) of a package's ``json`` column, keys in stored order."""
    try:
        value = json.loads(raw or "")
    except ValueError:
        raise BadPackage("The deploy package of this job has an unreadable definition.") from None
    if not isinstance(value, dict) or not isinstance(value.get("jobs"), dict):
        raise BadPackage("The deploy package of this job has no jobs definition.")
    files = value.get("associatedFiles")
    # PHP encodes an empty associative array as [].
    if files in (None, []):
        files = {}
    if not isinstance(files, dict):
        raise BadPackage("The deploy package of this job has an unreadable file list.")
    return value["jobs"], files


def job_files(jobs: Mapping[str, Any]) -> list[str]:
    """The sha512 of the files a job uses (``jobs.associatedFiles``), in order, once each."""
    listed = jobs.get("associatedFiles") or []
    if isinstance(listed, dict):
        listed = list(listed.values())
    seen: list[str] = []
    for sha512 in listed:
        if isinstance(sha512, str) and sha512 not in seen:
            seen.append(sha512)
    return seen


def version_tuple(version: str | None) -> tuple[int, ...]:
    """The numeric parts of a task version (``2.8`` → (2, 8)); () for none, which compares lower
    than any version, as PHP's ``version_compare`` does with an empty string."""
    return tuple(int(part) for part in re.findall(r"\d+", version or "")[:4])


def build_job(jobs: Mapping[str, Any], uuid: str, agent_version: str | None, nb_retry: int, max_retry: int,
              templates: Mapping[int, Mapping[str, Any]]) -> dict:
    """The job of one run: the package's ``jobs`` object (stored key order) then ``uuid``.

    ``templates``: user-interaction templates by id (their decoded ``json``), for inlining.
    """
    job = {key: _copy(value) for key, value in jobs.items() if key != "uuid"}
    for key in REQUIRED_JOB_KEYS:
        if not isinstance(job.get(key), list):
            job[key] = list(job[key].values()) if isinstance(job.get(key), dict) else []
    for action in job["actions"]:
        command = action.get("cmd") if isinstance(action, dict) else None
        if isinstance(command, dict) and isinstance(command.get("exec"), str):
            # Stored as typed in GLPI's UI, with only `<`/`>` encoded (as the plugin's getJobs,
            # decode just those: `?a=1&param=2` or `&amp;` must reach the agent unchanged).
            command["exec"] = ui_text(command["exec"])
    if version_tuple(agent_version) < USER_INTERACTIONS_SINCE:
        for check in job["checks"]:
            if isinstance(check, dict) and check.get("return") in OLD_AGENT_CHECK_RETURNS:
                check["return"] = "ignore"
    elif max_retry > 0 and nb_retry >= max_retry:
        # Postponed as often as allowed: the deployment is forced, nobody is asked any more.
        job.pop("userinteractions", None)
    elif isinstance(job.get("userinteractions"), list):
        job["userinteractions"] = [_inline_template(item, templates) for item in job["userinteractions"]]
    job["uuid"] = uuid
    return job


def template_ids(jobs: Mapping[str, Any]) -> set[int]:
    ids = set()
    for item in jobs.get("userinteractions") or []:
        if isinstance(item, dict) and str(item.get("template", "")).strip().isdigit():
            ids.add(int(str(item["template"]).strip()))
    return ids


def _inline_template(item: Any, templates: Mapping[int, Mapping[str, Any]]) -> Any:
    if not isinstance(item, dict):
        return item
    merged = dict(item)
    template = str(merged.pop("template", "")).strip()
    if template.isdigit() and int(template) in templates:
        merged.update(templates[int(template)])
    if isinstance(merged.get("text"), str):
        merged["text"] = merged["text"].replace(STORED_CRLF, "\r\n")
    return merged


def file_entry(stored: Mapping[str, Any], mirrors: Iterable[str], parts: Iterable[str]) -> dict:
    """A top-level ``associatedFiles`` entry: the stored one, then ``mirrors`` and ``multiparts``."""
    entry = {key: _copy(value) for key, value in stored.items() if key not in ("mirrors", "multiparts")}
    # The agent drops the whole answer when one of these is undefined; GLPI always stores them.
    for key in ("name", "p2p", "p2p-retention-duration", "uncompress"):
        entry.setdefault(key, "" if key == "name" else 0)
    entry["mirrors"] = list(mirrors)
    entry["multiparts"] = list(parts)
    return entry


def decode_template(raw: str | None) -> dict:
    try:
        value = json.loads(raw or "")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _copy(value: Any) -> Any:
    # Deep enough for the nested lists and objects of a package, so callers never share them.
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value
