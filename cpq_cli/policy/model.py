"""The policy set as immutable values. Built by `load.py`; read by lint, routing and the workflow."""

import datetime as dt
import math
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from cpq_cli.jsonpath import JsonPath
from cpq_cli.policy.references import AUTO as AUTO  # re-exported: the words approver lists use
from cpq_cli.policy.references import FIELD_PREFIX as FIELD_PREFIX
from cpq_cli.policy.references import OWNER as OWNER
from cpq_cli.policy.references import ApproverRef, Mention

DEFAULT_CHAIN = "default"


class Origin(NamedTuple):
    """Where a definition was written: its file and JSON path, for findings about it."""

    file: str
    path: JsonPath


class User(NamedTuple):
    id: str
    name: str
    email: str
    manager: str | None = None
    title: str | None = None
    active: bool = True
    origin: Origin = Origin("", ())
    signing_key: str | None = None  # "ssh-ed25519 AAAA…", for settings.require_signed_decisions
    notify: tuple[str, ...] | None = None  # the channels they are notified on (None: the team's default)
    locale: str | None = None  # "de-DE": the language of their e-mails, web pages and CLI (cpq_cli.i18n)


class RequireKind(StrEnum):
    ANY = "any"
    ALL = "all"
    MIN = "min"
    PERCENT = "percent"


class Requirement(NamedTuple):
    kind: RequireKind = RequireKind.ANY
    value: Decimal | None = None

    def needed(self, members: int) -> int:
        """How many approvals settle a group of this size."""
        match self.kind:
            case RequireKind.ANY:
                return min(1, members)
            case RequireKind.ALL:
                return members
            case RequireKind.MIN:
                return int(self.value or 0)
            case RequireKind.PERCENT:
                return max(1, math.ceil(Decimal(members) * (self.value or Decimal(0)) / 100))

    def describe(self) -> str:
        match self.kind:
            case RequireKind.ANY | RequireKind.ALL:
                return self.kind.value
            case RequireKind.MIN:
                return f"min {self.value}"
            case RequireKind.PERCENT:
                return f"{self.value}%"

    def to_json(self) -> object:
        match self.kind:
            case RequireKind.ANY | RequireKind.ALL:
                return self.kind.value
            case RequireKind.MIN:
                return {"min": int(self.value or 0)}
            case RequireKind.PERCENT:
                return {"percent": str(self.value)}


class Group(NamedTuple):
    id: str
    members: tuple[str, ...]
    require: Requirement = Requirement()
    description: str | None = None
    origin: Origin = Origin("", ())


class Aggregate(StrEnum):
    SUM = "sum"
    MIN = "min"
    MAX = "max"
    AVG = "avg"
    COUNT = "count"


class Variable(NamedTuple):
    id: str
    function: Aggregate
    field: str | None = None
    where: str | None = None
    description: str | None = None
    origin: Origin = Origin("", ())


class Chain(NamedTuple):
    id: str
    order: int
    description: str | None = None
    origin: Origin = Origin("", ())


class SmartMode(StrEnum):
    OFF = "off"
    ALL = "all"  # every condition of the rule is smart
    FIELDS = "fields"  # only conditions testing the listed fields


class Smart(NamedTuple):
    mode: SmartMode = SmartMode.OFF
    fields: tuple[str, ...] = ()
    individually: bool = False


class Escalation(NamedTuple):
    after: dt.timedelta
    to: str


class Rule(NamedTuple):
    id: str
    when: str
    approvers: tuple[str, ...]
    chain: str = DEFAULT_CHAIN
    step: int = 1
    description: str | None = None
    smart: Smart = Smart()
    explicit: bool = False
    effective_from: dt.date | None = None
    effective_until: dt.date | None = None
    escalate: Escalation | None = None
    origin: Origin = Origin("", ())
    refs: tuple[ApproverRef, ...] = ()  # `approvers`, parsed when the policy set is loaded

    def effective_on(self, day: dt.date | None) -> bool:
        if day is None:
            return self.effective_from is None and self.effective_until is None
        if self.effective_from and day < self.effective_from:
            return False
        return not (self.effective_until and day > self.effective_until)


class Settings(NamedTuple):
    currency_digits: tuple[tuple[str, int], ...] = ()
    order_start: str = "quote_start"
    proration: str = "day"
    contracting: str = "by_end_date"
    assets: str = "one_per_line"
    require_signed_decisions: bool = False

    def digits(self, currency: str) -> int:
        return int(dict(self.currency_digits).get(currency, 2))


class Product(NamedTuple):
    id: str
    name: str
    family: str | None = None
    kind: str | None = None
    sla: tuple[tuple[str, object], ...] = ()
    proration: str | None = None
    origin: Origin = Origin("", ())
    price_term_months: int | None = None  # `price: {term_months: N}`: the list price is for N months


class PolicyFile(NamedTuple):
    path: str  # relative to the policy directory, POSIX separators
    sha256: str


class Policy(NamedTuple):
    root: str
    files: tuple[PolicyFile, ...]
    content_hash: str
    users: dict[str, User]
    groups: dict[str, Group]
    variables: dict[str, Variable]
    chains: dict[str, Chain]
    rules: tuple[Rule, ...]
    admins: tuple[str, ...] = ()
    settings: Settings = Settings()
    products: dict[str, Product] = {}  # noqa: RUF012 - NamedTuple defaults are never mutated
    mentions: tuple[Mention, ...] = ()  # every place a user or group is named (policy.references)

    def chain(self, chain_id: str) -> Chain:
        """The chain a rule names; the implicit `default` chain runs first (order 1)."""
        found = self.chains.get(chain_id)
        if found is not None:
            return found
        return Chain(chain_id, 1)
