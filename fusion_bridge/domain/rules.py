"""GLPI's rule engine as the FusionInventory plugin uses it, over typed values (no database).

Rules come from ``glpi_rules`` / ``glpi_rulecriterias`` / ``glpi_ruleactions``
(docs/import-rules.md §1). ``decide_import`` plays the plugin's import rules on a device
(docs/import-rules.md §3): the first active rule, in ranking order, whose criteria hold gives the
decision (refuse, link to the asset its "is already present in GLPI" criteria found, or
create). ``decide_assignment`` plays entity or location rules (docs/import-rules.md §5). The
search behind "is already present in GLPI" is the caller's: it is handed a ``Search`` and
answers the asset found (docs/import-rules.md §4).

A rule using a criterion, condition or action this module does not implement is never
matched: it is returned in ``skipped`` with the reason, for the caller to report.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Callable, Iterable

from fusion_bridge.domain.text import php_json

IMPORT_RULES = "PluginFusioninventoryInventoryRuleImport"
ENTITY_RULES = "PluginFusioninventoryInventoryRuleEntity"
LOCATION_RULES = "PluginFusioninventoryInventoryRuleLocation"

UNMANAGED = "PluginFusioninventoryUnmanaged"
# The asset types the "already present" search covers, in GLPI's state_types order.
SEARCHED_TYPES = ("Computer", "NetworkEquipment", "Printer", UNMANAGED)


class Condition(IntEnum):
    """``glpi_rulecriterias.condition`` (docs/import-rules.md §2)."""

    IS = 0
    IS_NOT = 1
    CONTAINS = 2
    NOT_CONTAINS = 3
    BEGINS = 4
    ENDS = 5
    REGEX_MATCH = 6
    REGEX_NOT_MATCH = 7
    EXISTS = 8
    DOES_NOT_EXIST = 9
    FIND = 10
    UNDER = 11
    NOT_UNDER = 12
    IS_EMPTY = 30
    ENTITY_RESTRICT = 202
    SAME_PORT = 203
    ONLY_THESE_CRITERIA = 204
    CIDR = 333
    NOT_CIDR = 334


NEGATIVE = {Condition.IS_NOT, Condition.NOT_CONTAINS, Condition.REGEX_NOT_MATCH, Condition.DOES_NOT_EXIST}
TEXT_CONDITIONS = {Condition.IS, Condition.IS_NOT, Condition.CONTAINS, Condition.NOT_CONTAINS, Condition.BEGINS,
                   Condition.ENDS, Condition.REGEX_MATCH, Condition.REGEX_NOT_MATCH, Condition.EXISTS,
                   Condition.DOES_NOT_EXIST, Condition.IS_EMPTY}

# Import-rule criteria (docs/import-rules.md §3): the ones "is already present" searches on, in
# the plugin's order, and the ones evaluated only as text.
GLOBAL_CRITERIA = ("model", "mac", "ip", "serial", "otherserial", "hdserial", "partitionserial", "uuid",
                   "device_id", "mskey", "name", "itemtype", "domains_id", "entityrestrict", "oscomment",
                   "ifnumber", "ifdescr", "link_criteria_port", "only_these_criteria")
IMPORT_CRITERIA = set(GLOBAL_CRITERIA) | {"entities_id", "states_id", "tag", "osname", "sysdescr"}
# The criteria whose "already present" search the bridge implements.
FIND_CRITERIA = {"serial", "mac", "ip", "name"}
ASSIGN_CRITERIA = {
    ENTITY_RULES: {"tag", "domain", "subnet", "ip", "name", "serial", "oscomment", "sysdescr"},
    LOCATION_RULES: {"itemtype", "tag", "domain", "subnet", "ip", "name", "serial", "oscomment", "sysdescr"},
}

LINK, DENIED = "1", "2"  # values of the import rules' _fusion action


class Unsupported(Exception):
    """A criterion, condition or action the bridge does not evaluate."""


@dataclass(frozen=True, slots=True)
class Criterion:
    criteria: str
    condition: int
    pattern: str = ""


@dataclass(frozen=True, slots=True)
class Action:
    action_type: str
    field: str
    value: str = ""


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    name: str
    sub_type: str
    ranking: int = 0
    match: str = "AND"
    criteria: tuple[Criterion, ...] = ()
    actions: tuple[Action, ...] = ()


Value = str | tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RuleInput:
    """What a device offers to rules.

    ``values`` are the plugin's own input, in its order (docs/import-rules.md §3): they are
    what the refusal log line and ``rulematchedlogs.criteria`` show. ``extras`` are criteria the
    bridge offers on top (the discovering agent's tag, the SNMP description).
    """

    values: tuple[tuple[str, Value], ...]
    extras: tuple[tuple[str, Value], ...] = ()

    def get(self, key: str) -> Value | None:
        for name, value in (*self.values, *self.extras):
            if name == key:
                return value
        return None

    def keys(self) -> list[str]:
        return [name for name, _ in self.values]

    def text(self) -> str:
        """``[k]:v, [k]:v1, v2``: the plugin's refusal line lists its input so."""
        return ", ".join(f"[{k}]:{', '.join(v) if isinstance(v, tuple) else v}" for k, v in self.values)

    def as_json(self) -> str:
        """The input as PHP's json_encode writes it (``exportArrayToDB``)."""
        return php_json({k: list(v) if isinstance(v, tuple) else v for k, v in self.values})


# --- conditions -----------------------------------------------------------------------------

def php_empty(value: str | None) -> bool:
    return value is None or value == "" or value == "0"


_MODIFIERS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE, "u": 0}
_CLOSING = {"(": ")", "{": "}", "[": "]", "<": ">"}


def php_regex(pattern: str) -> re.Pattern:
    """A PCRE pattern as GLPI stores it (``/…/flags``, ``<``/``>`` as entities), compiled
    case-insensitively as GLPI matches it; Unsupported when Python cannot do the same."""
    pattern = pattern.strip().replace("&lt;", "<").replace("&gt;", ">")
    if len(pattern) < 2 or pattern[0].isalnum() or pattern[0] in "\\ ":
        raise Unsupported(f"regular expression {pattern!r} has no delimiters")
    end = pattern.rfind(_CLOSING.get(pattern[0], pattern[0]))
    if end <= 0:
        raise Unsupported(f"regular expression {pattern!r} is not closed")
    flags = re.IGNORECASE
    for modifier in pattern[end + 1:]:
        if modifier not in _MODIFIERS:
            raise Unsupported(f"regular expression modifier {modifier!r} of {pattern!r}")
        flags |= _MODIFIERS[modifier]
    try:
        return re.compile(pattern[1:end], flags)
    except re.error as error:
        raise Unsupported(f"regular expression {pattern!r}: {error}") from None


def _in_network(pattern: str, value: str) -> bool:
    try:
        network = ipaddress.ip_network(pattern.strip(), strict=False)
        return ipaddress.ip_address(value.strip()) in network
    except ValueError:
        return False


def match_value(criterion: Criterion, value: str | None, groups: list[list[str]]) -> bool:
    """One value against one criterion (GLPI's RuleCriteria::match, docs/import-rules.md §2).

    A regex match appends its capture groups to ``groups`` (for regex_result actions).
    """
    condition = criterion.condition
    pattern = (criterion.pattern or "").strip()
    if pattern == "*" or condition in (Condition.FIND, Condition.IS_EMPTY):
        return True  # a wildcard; FIND is the search's, IS_EMPTY is always true in 9.5+4.2
    field_value = value or ""
    if condition == Condition.EXISTS:
        return not php_empty(value)
    if condition == Condition.DOES_NOT_EXIST:
        return php_empty(value)
    if condition == Condition.IS:
        return field_value.lower() == pattern.lower()
    if condition == Condition.IS_NOT:
        return field_value.lower() != pattern.lower()
    if condition in (Condition.CONTAINS, Condition.NOT_CONTAINS, Condition.BEGINS, Condition.ENDS):
        if php_empty(pattern):
            return False
        low, needle = field_value.lower(), pattern.lower()
        if condition == Condition.CONTAINS:
            return needle in low
        if condition == Condition.NOT_CONTAINS:
            return needle not in low
        return low.startswith(needle) if condition == Condition.BEGINS else low.endswith(needle)
    if condition in (Condition.REGEX_MATCH, Condition.REGEX_NOT_MATCH):
        matches = list(php_regex(pattern).finditer(field_value))
        if condition == Condition.REGEX_NOT_MATCH:
            return not matches
        if matches:
            groups.append([m.group(i) or "" for i in range(1, (matches[0].re.groups or 0) + 1) for m in matches])
        return bool(matches)
    if condition in (Condition.CIDR, Condition.NOT_CIDR):
        if not field_value:
            return False
        inside = _in_network(pattern, field_value)
        return inside if condition == Condition.CIDR else not inside
    raise Unsupported(f"condition {condition} on {criterion.criteria}")


def check_criterion(criterion: Criterion, rule_input: RuleInput, groups: list[list[str]]) -> bool:
    """A criterion against the input's value; for a list, a negative condition must hold for
    every element and a positive one for any (GLPI's Rule::checkCriteria)."""
    value = rule_input.get(criterion.criteria)
    if not isinstance(value, tuple):
        return match_value(criterion, value, groups)
    if criterion.condition == Condition.NOT_CIDR:
        return not any(_in_network(criterion.pattern, v) for v in value if v)
    if criterion.condition in NEGATIVE:
        return all(match_value(criterion, v, groups) for v in value)
    return any([match_value(criterion, v, groups) for v in value])


def _simple_criteria_hold(rule: Rule, rule_input: RuleInput, groups: list[list[str]],
                          evaluated: Callable[[Criterion], bool]) -> bool:
    wanted = [c for c in rule.criteria if evaluated(c)]
    if rule.match.upper() == "OR":
        return any(check_criterion(c, rule_input, groups) for c in wanted)
    return all(check_criterion(c, rule_input, groups) for c in wanted)


def _validate_conditions(rule: Rule, known: set[str]) -> None:
    for criterion in rule.criteria:
        if criterion.criteria not in known:
            raise Unsupported(f"criterion {criterion.criteria!r}")
        try:
            Condition(criterion.condition)
        except ValueError:
            raise Unsupported(f"condition {criterion.condition} on {criterion.criteria!r}") from None
        if criterion.condition in (Condition.REGEX_MATCH, Condition.REGEX_NOT_MATCH):
            php_regex(criterion.pattern or "")


# --- import rules -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Search:
    """What a rule's "is already present in GLPI" criteria ask for (docs/import-rules.md §4):
    one live asset of ``itemtypes`` (in that order) whose fields equal all of these."""

    itemtypes: tuple[str, ...]
    serial: str | None = None
    macs: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    name: str | None = None
    same_port: bool = False
    states: tuple[int, tuple[str, ...]] | None = None  # (IS or IS_NOT, states ids)


Found = tuple[str, int]
Finder = Callable[[Search], "Found | None"]

REFUSED, LINKED, CREATED, NO_RULE = "refused", "link", "create", "no rule"


@dataclass(frozen=True, slots=True)
class ImportDecision:
    """``kind``: REFUSED, LINKED (to ``itemtype``/``items_id``), CREATED (a new ``itemtype``) or
    NO_RULE (no rule matched: the caller applies the plugin's fallback, docs/import-rules.md §3)."""

    kind: str
    rule: Rule | None = None
    itemtype: str | None = None
    items_id: int | None = None
    skipped: tuple[tuple[Rule, str], ...] = ()


def _validate_import_rule(rule: Rule) -> None:
    _validate_conditions(rule, IMPORT_CRITERIA)
    for criterion in rule.criteria:
        condition, name = criterion.condition, criterion.criteria
        if condition == Condition.FIND and name not in FIND_CRITERIA and name not in GLOBAL_CRITERIA:
            raise Unsupported(f"\"is already present in GLPI\" on {name!r}")
        if condition in (Condition.UNDER, Condition.NOT_UNDER, Condition.ENTITY_RESTRICT,
                         Condition.CIDR, Condition.NOT_CIDR):
            raise Unsupported(f"condition {condition} on {name!r}")
        if name in ("states_id", "entities_id") and condition not in (Condition.IS, Condition.IS_NOT):
            # GLPI compares a dropdown's name for the other conditions.
            raise Unsupported(f"condition {condition} on {name!r}")
    if not rule.actions:
        raise Unsupported("a rule without action")
    for action in rule.actions:
        if action.field == "_fusion" and action.value in (LINK, DENIED):
            continue
        if action.field == "_ignore_import":
            continue
        raise Unsupported(f"action {action.action_type} {action.field}={action.value}")


def _is_simple(criterion: Criterion) -> bool:
    """Criteria GLPI checks as text before the search (all but the plugin's global ones)."""
    return criterion.criteria not in ("link_criteria_port", "only_these_criteria", "states_id")


def _search_for(rule: Rule, rule_input: RuleInput) -> Search | bool:
    """The search a matching rule asks for; True when it needs none, False when it fails
    (the plugin's findWithGlobalCriteria, docs/import-rules.md §4)."""
    same_port = only_these = False
    finds: list[Criterion] = []
    restrict_type = False
    for name in GLOBAL_CRITERIA:
        for criterion in (c for c in rule.criteria if c.criteria == name):
            value = rule_input.get(name)
            if value is None or value == "" or value == ():
                if name == "link_criteria_port":
                    same_port = True
                elif name == "only_these_criteria":
                    only_these = True
            elif criterion.condition == Condition.FIND:
                finds.append(criterion)
            elif criterion.condition == Condition.EXISTS:
                if php_empty(value) if isinstance(value, str) else not any(value):
                    return False
            elif name == "itemtype":
                restrict_type = True
    states = [c for c in rule.criteria if c.criteria == "states_id"]
    if only_these:
        named = {c.criteria for c in rule.criteria if c.criteria in GLOBAL_CRITERIA}
        if any(key not in named for key in rule_input.keys()):
            return False
    if not finds:
        return True
    itemtype = rule_input.get("itemtype")
    searched = (itemtype,) if restrict_type and isinstance(itemtype, str) and itemtype else SEARCHED_TYPES
    wanted = {c.criteria for c in finds}
    unsearchable = wanted - FIND_CRITERIA
    if unsearchable:
        raise Unsupported(f"\"is already present in GLPI\" on {sorted(unsearchable)}")

    def listed(key: str) -> tuple[str, ...]:
        value = rule_input.get(key)
        return value if isinstance(value, tuple) else (value,) if value else ()

    state_filter = None
    if states:
        state_filter = (states[0].condition, tuple(c.pattern for c in states))
    return Search(
        itemtypes=searched,
        serial=rule_input.get("serial") if "serial" in wanted else None,  # type: ignore[arg-type]
        macs=listed("mac") if "mac" in wanted else (),
        ips=listed("ip") if "ip" in wanted else (),
        name=rule_input.get("name") if "name" in wanted else None,  # type: ignore[arg-type]
        same_port=same_port and bool(wanted & {"mac", "ip"}),
        states=state_filter,
    )


def _created_type(rule: Rule) -> str:
    """The type a linking rule creates when it found nothing: its first item type criterion
    with a non-numeric pattern, else an unmanaged device (docs/import-rules.md §3)."""
    for criterion in rule.criteria:
        if criterion.criteria == "itemtype" and not (criterion.pattern or "").strip().lstrip("-").isdigit():
            return criterion.pattern or UNMANAGED
    return UNMANAGED


def decide_import(rules: Iterable[Rule], rule_input: RuleInput, finder: Finder) -> ImportDecision:
    """Play ``rules`` (active import rules, any order) on ``rule_input``; the first matching rule
    in ranking order decides."""
    skipped: list[tuple[Rule, str]] = []
    for rule in sorted(rules, key=lambda r: (r.ranking, r.id)):
        try:
            _validate_import_rule(rule)
            if not _simple_criteria_hold(rule, rule_input, [], _is_simple):
                continue
            search = _search_for(rule, rule_input)
            if search is False:
                continue
            found = finder(search) if isinstance(search, Search) else None
            if isinstance(search, Search) and found is None:
                continue  # GLPI: the rule's criteria do not hold
        except Unsupported as error:
            skipped.append((rule, str(error)))
            continue
        action = rule.actions[0]
        if action.field == "_ignore_import" or action.value == DENIED:
            return ImportDecision(REFUSED, rule, skipped=tuple(skipped))
        if found is not None:
            return ImportDecision(LINKED, rule, found[0], found[1], skipped=tuple(skipped))
        return ImportDecision(CREATED, rule, _created_type(rule), skipped=tuple(skipped))
    return ImportDecision(NO_RULE, skipped=tuple(skipped))


# --- entity and location rules ----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Assignment:
    """What entity or location rules decided: the first matching rule's values."""

    rule: Rule | None = None
    entities_id: int | None = None
    locations_id: int | None = None
    refused: bool = False
    skipped: tuple[tuple[Rule, str], ...] = field(default=())


def _number(text: str) -> int:
    try:
        return int(text.strip())
    except (ValueError, AttributeError):
        raise Unsupported(f"value {text!r} is not an id") from None


def _regex_result(template: str, groups: list[list[str]]) -> str:
    """``#0``, ``#1``… replaced by the first regex criterion's capture groups (GLPI's
    RuleAction::getRegexResultById)."""
    found = groups[0] if groups else []
    return re.sub(r"#([0-9])", lambda m: found[int(m.group(1))] if int(m.group(1)) < len(found) else "",
                  template)


def decide_assignment(rules: Iterable[Rule], sub_type: str, rule_input: RuleInput,
                      entity_by_tag: Callable[[str], int | None] = lambda tag: None) -> Assignment:
    """Play entity (``ENTITY_RULES``) or location (``LOCATION_RULES``) rules; the first rule whose
    criteria hold and whose actions apply decides (docs/import-rules.md §5)."""
    skipped: list[tuple[Rule, str]] = []
    for rule in sorted(rules, key=lambda r: (r.ranking, r.id)):
        groups: list[list[str]] = []
        try:
            _validate_conditions(rule, ASSIGN_CRITERIA[sub_type])
            for criterion in rule.criteria:
                if criterion.condition not in TEXT_CONDITIONS | {Condition.CIDR, Condition.NOT_CIDR}:
                    raise Unsupported(f"condition {criterion.condition} on {criterion.criteria!r}")
            if not rule.criteria or not _simple_criteria_hold(rule, rule_input, groups, lambda c: True):
                continue
            result = _assigned(rule, sub_type, groups, entity_by_tag)
        except Unsupported as error:
            skipped.append((rule, str(error)))
            continue
        if result is None:
            continue  # "Entity from TAG" named no entity: GLPI passes on to the next rule
        return Assignment(rule, *result, skipped=tuple(skipped))
    return Assignment(skipped=tuple(skipped))


def _assigned(rule: Rule, sub_type: str, groups: list[list[str]],
              entity_by_tag: Callable[[str], int | None]) -> tuple[int | None, int | None, bool] | None:
    entities_id = locations_id = None
    refused = False
    for action in rule.actions:
        kind, target = action.action_type, action.field
        if target == "_ignore_import" and kind == "assign":
            refused = True
        elif kind == "assign" and target == "entities_id" and sub_type == ENTITY_RULES:
            entities_id = _number(action.value)
        elif kind == "assign" and target == "locations_id":
            locations_id = _number(action.value)
        elif kind == "regex_result" and target == "_affect_entity_by_tag" and sub_type == ENTITY_RULES:
            tag = _regex_result(action.value, groups)
            entities_id = entity_by_tag(tag) if tag else None
            if entities_id is None:
                return None
        else:
            raise Unsupported(f"action {kind} {target}={action.value}")
    if not rule.actions:
        raise Unsupported("a rule without action")
    return entities_id, locations_id, refused
