"""Reading a policy directory (YAML and TOML, mixed) into one immutable Policy.

Loading is lenient: it builds the best model it can and returns every parse and schema
finding beside it, so that `cpq lint` can report everything at once. Commands that act on
a policy use `checked.load_policy`, which refuses a set with errors.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from cpq_cli.diagnostics import Diagnostic
from cpq_cli.paths import display_path
from cpq_cli.policy.files import discover, read_files
from cpq_cli.policy.model import (
    DEFAULT_CHAIN,
    Aggregate,
    Chain,
    Escalation,
    Group,
    Origin,
    Policy,
    PolicyFile,
    Product,
    RequireKind,
    Requirement,
    Rule,
    Settings,
    Smart,
    SmartMode,
    User,
    Variable,
)
from cpq_cli.policy.references import Mention, RefKind, Role, parse_ref
from cpq_cli.sources import ParseFailure, SourceDoc, load_document


@dataclass(frozen=True)
class Definition:
    kind: str  # user | group | variable | chain | rule | setting | admin
    id: str
    origin: Origin


@dataclass
class PolicySet:
    """Everything lint needs: the documents, what went wrong reading them, and the merged model."""

    root: Path
    docs: dict[str, SourceDoc]
    problems: list[Diagnostic]
    policy: Policy
    definitions: list[Definition] = field(default_factory=list)


def load_policy_set(root: Path, paths: list[Path] | None = None) -> PolicySet:
    """Parse, validate against the schema, and merge; never raises for bad content."""
    from cpq_cli import schemas

    files = discover(root) if paths is None else paths
    contents, content_hash = read_files(root, files)
    docs: dict[str, SourceDoc] = {}
    problems: list[Diagnostic] = []
    for path, raw in contents:
        try:
            doc = load_document(path, raw=raw)
        except ParseFailure as failure:
            problems.append(failure.diagnostic)
            continue
        docs[doc.path] = doc
        problems.extend(schemas.validate(doc, "policy"))
    base = root if root.is_dir() else root.parent
    policy_files = tuple(
        PolicyFile(p.relative_to(base).as_posix() if p.is_relative_to(base) else p.name,
                   hashlib.sha256(raw).hexdigest())
        for p, raw in contents
    )
    builder = _Builder()
    for doc in docs.values():
        builder.add(doc)
    policy = builder.policy(display_path(root), policy_files, content_hash)
    return PolicySet(root, docs, problems, policy, builder.definitions)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _date(value: Any) -> dt.date | None:
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def parse_duration(text: str) -> dt.timedelta | None:
    """`30m`, `48h`, `3d` -> timedelta; None for anything else (the schema bounds the digits)."""
    if len(text) < 2 or len(text) > 7 or not text[:-1].isdigit():
        return None
    amount, unit = int(text[:-1]), text[-1]
    return {"m": dt.timedelta(minutes=amount), "h": dt.timedelta(hours=amount),
            "d": dt.timedelta(days=amount)}.get(unit)


class _Builder:
    """Merges documents; the first definition of an id wins, later ones are recorded for lint."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.groups: dict[str, Group] = {}
        self.variables: dict[str, Variable] = {}
        self.chains: dict[str, Chain] = {}
        self.rules: list[Rule] = []
        self.rule_ids: set[str] = set()
        self.admins: list[str] = []
        self.settings: dict[str, Any] = {}
        self.products: dict[str, Product] = {}
        self.definitions: list[Definition] = []

    def _define(self, kind: str, ident: str, origin: Origin) -> None:
        self.definitions.append(Definition(kind, ident, origin))

    def add(self, doc: SourceDoc) -> None:
        data = doc.data
        for key, handler in (("users", self._user), ("groups", self._group),
                             ("variables", self._variable), ("chains", self._chain)):
            section = data.get(key)
            if isinstance(section, dict):
                for ident, body in section.items():
                    if isinstance(body, dict):
                        origin = Origin(doc.path, (key, ident))
                        self._define(key[:-1], ident, origin)
                        handler(str(ident), body, origin)
        rules = data.get("rules")
        if isinstance(rules, list):
            for index, body in enumerate(rules):
                if isinstance(body, dict) and isinstance(body.get("id"), str):
                    origin = Origin(doc.path, ("rules", index))
                    self._define("rule", body["id"], origin)
                    self._rule(body, origin)
        admins = data.get("admins")
        if isinstance(admins, list):
            for index, admin in enumerate(admins):
                if isinstance(admin, str):
                    self._define("admin", admin, Origin(doc.path, ("admins", index)))
                    if admin not in self.admins:
                        self.admins.append(admin)
        products = data.get("products")
        if isinstance(products, dict):
            for sku, body in products.items():
                if isinstance(body, dict):
                    origin = Origin(doc.path, ("products", sku))
                    self._define("product", str(sku), origin)
                    sla = body.get("sla")
                    price = body.get("price")
                    term = price.get("term_months") if isinstance(price, dict) else None
                    self.products.setdefault(str(sku), Product(
                        str(sku), _str(body.get("name")) or str(sku), _str(body.get("family")), _str(body.get("kind")),
                        tuple(sorted(sla.items())) if isinstance(sla, dict) else (), _str(body.get("proration")),
                        origin, term if isinstance(term, int) and not isinstance(term, bool) else None))
        settings = data.get("settings")
        if isinstance(settings, dict):
            for key, value in settings.items():
                self._define("setting", key, Origin(doc.path, ("settings", key)))
                self.settings.setdefault(key, value)

    def _user(self, ident: str, body: dict[str, Any], origin: Origin) -> None:
        if ident in self.users:
            return
        self.users[ident] = User(ident, _str(body.get("name")) or ident, _str(body.get("email")) or "",
                                 _str(body.get("manager")), _str(body.get("title")),
                                 body.get("active") is not False, origin, _str(body.get("signing_key")),
                                 _channels(body.get("notify")), _str(body.get("locale")))

    def _group(self, ident: str, body: dict[str, Any], origin: Origin) -> None:
        if ident in self.groups:
            return
        members = body.get("members")
        member_ids = tuple(m for m in members if isinstance(m, str)) if isinstance(members, list) else ()
        self.groups[ident] = Group(ident, member_ids, _requirement(body.get("require")),
                                   _str(body.get("description")), origin)

    def _variable(self, ident: str, body: dict[str, Any], origin: Origin) -> None:
        if ident in self.variables:
            return
        try:
            function = Aggregate(str(body.get("function")))
        except ValueError:
            function = Aggregate.SUM
        self.variables[ident] = Variable(ident, function, _str(body.get("field")), _str(body.get("where")),
                                         _str(body.get("description")), origin)

    def _chain(self, ident: str, body: dict[str, Any], origin: Origin) -> None:
        if ident in self.chains:
            return
        order = body.get("order")
        self.chains[ident] = Chain(ident, order if isinstance(order, int) else 1,
                                   _str(body.get("description")), origin)

    def _rule(self, body: dict[str, Any], origin: Origin) -> None:
        ident = body["id"]
        if ident in self.rule_ids:
            return
        self.rule_ids.add(ident)
        approvers = body.get("approvers")
        step = body.get("step")
        raw_effective = body.get("effective")
        effective: dict[str, Any] = raw_effective if isinstance(raw_effective, dict) else {}
        escalate = body.get("escalate")
        escalation = None
        if isinstance(escalate, dict) and isinstance(escalate.get("after"), str):
            after = parse_duration(escalate["after"])
            if after is not None and isinstance(escalate.get("to"), str):
                escalation = Escalation(after, escalate["to"])
        self.rules.append(Rule(
            id=ident,
            when=_str(body.get("when")) or "",
            approvers=tuple(a for a in approvers if isinstance(a, str)) if isinstance(approvers, list) else (),
            chain=_str(body.get("chain")) or DEFAULT_CHAIN,
            step=step if isinstance(step, int) and not isinstance(step, bool) else 1,
            description=_str(body.get("description")),
            smart=_smart(body.get("smart")),
            explicit=body.get("explicit") is True,
            effective_from=_date(effective.get("from")),
            effective_until=_date(effective.get("until")),
            escalate=escalation,
            origin=origin,
        ))

    def policy(self, root: str, files: tuple[PolicyFile, ...], content_hash: str) -> Policy:
        s = self.settings
        digits = s.get("currency_digits")
        settings = Settings(
            currency_digits=tuple(sorted((k, v) for k, v in digits.items() if isinstance(v, int)))
            if isinstance(digits, dict) else (),
            order_start=s.get("order_start", "quote_start"),
            proration=s.get("proration", "day"),
            contracting=s.get("contracting", "by_end_date"),
            assets=s.get("assets", "one_per_line"),
            require_signed_decisions=s.get("require_signed_decisions") is True,
        )
        rules = tuple(r._replace(refs=tuple(parse_ref(a, self.users, self.groups) for a in r.approvers))
                      for r in self.rules)
        return Policy(root, files, content_hash, self.users, self.groups, self.variables, self.chains,
                      rules, tuple(self.admins), settings, self.products, self._mentions(rules))

    def _mentions(self, rules: tuple[Rule, ...]) -> tuple[Mention, ...]:
        """Every place a user or group is named, for lint and `approvers replace` (one index, one walk)."""
        found: list[Mention] = []
        for user in self.users.values():
            if user.manager:
                found.append(Mention(user.manager, Role.MANAGER, user.id, user.origin.file,
                                     (*user.origin.path, "manager")))
        for group in self.groups.values():
            found += [Mention(m, Role.MEMBER, group.id, group.origin.file, (*group.origin.path, "members", i))
                      for i, m in enumerate(group.members)]
        found += [Mention(d.id, Role.ADMIN, "admins", d.origin.file, d.origin.path)
                  for d in self.definitions if d.kind == "admin"]
        for rule in rules:
            found += [Mention(ref.text, Role.APPROVER, rule.id, rule.origin.file, (*rule.origin.path, "approvers", i))
                      for i, ref in enumerate(rule.refs) if ref.kind in (RefKind.USER, RefKind.GROUP, RefKind.UNKNOWN)]
            if rule.escalate:
                found.append(Mention(rule.escalate.to, Role.ESCALATION, rule.id, rule.origin.file,
                                     (*rule.origin.path, "escalate", "to")))
        return tuple(found)


def _requirement(value: Any) -> Requirement:
    if value == "all":
        return Requirement(RequireKind.ALL)
    if isinstance(value, dict):
        if isinstance(value.get("min"), int):
            return Requirement(RequireKind.MIN, Decimal(value["min"]))
        if isinstance(value.get("percent"), int | Decimal):
            return Requirement(RequireKind.PERCENT, Decimal(value["percent"]))
    return Requirement(RequireKind.ANY)


def _smart(value: Any) -> Smart:
    if value is True:
        return Smart(SmartMode.ALL)
    if isinstance(value, list):
        return Smart(SmartMode.FIELDS, tuple(str(v) for v in value))
    if isinstance(value, dict):
        fields = value.get("fields")
        individually = value.get("individually") is True
        if isinstance(fields, list):
            return Smart(SmartMode.FIELDS, tuple(str(v) for v in fields), individually)
        return Smart(SmartMode.ALL, (), individually)
    return Smart()


def _channels(value: Any) -> tuple[str, ...] | None:
    """A user's `notify` list (the schema checks its values); None when they did not choose."""
    if not isinstance(value, list):
        return None
    return tuple(dict.fromkeys(str(v) for v in value if isinstance(v, str)))
