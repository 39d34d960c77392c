"""A small SOQL parser: ``SELECT fields FROM sObject [WHERE condition] [ORDER BY field [ASC|DESC]
[NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n]`` with relationship fields (``Who.Email``,
``What.Type``, ``Owner.Email``, ``Account.Name``), comparisons ``= != <> < <= > >=``, ``IN``,
``NOT IN``, ``LIKE``, ``AND``/``OR``/``NOT`` and parentheses, and the literal forms of
https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_quotedstringescapes.htm
and ..._select_dateformats.htm (unquoted dateTime and date literals).

As in Salesforce, AND and OR may not be mixed without parentheses and a syntax error is
``MALFORMED_QUERY`` pointing at its row and column. :mod:`.query` resolves and runs it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .schema import Field
from .wire import ApiError, parse_datetime

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    |(?P<string>'(?:\\.|[^'\\])*')
    |(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
    |(?P<date>\d{4}-\d{2}-\d{2})
    |(?P<number>-?\d+(?:\.\d+)?)
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    |(?P<op>!=|<>|<=|>=|=|<|>)
    |(?P<punct>[(),])""",
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\"}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int

    def word(self) -> str:
        return self.text.lower() if self.kind == "name" else ""


@dataclass
class Literal:
    kind: str  # string, datetime, date, number, boolean, null
    value: Any


@dataclass
class Path:
    """A field as written, and, once resolved, the references walked and the leaf."""

    text: str
    pos: int
    rels: list[Field] = field(default_factory=list)
    leaf: Field | None = None
    type_of_target: bool = False  # What.Type: the referenced record's sObject

    @property
    def item(self) -> Field:
        assert self.leaf is not None
        return self.leaf


@dataclass
class Compare:
    path: Path
    op: str
    value: Literal


@dataclass
class InList:
    path: Path
    values: list[Literal]
    negated: bool


@dataclass
class Like:
    path: Path
    pattern: re.Pattern[str]


@dataclass
class Junction:
    op: str  # and, or
    parts: list[Condition]


@dataclass
class Not:
    part: Condition


Condition = Compare | InList | Like | Junction | Not


@dataclass
class Order:
    path: Path
    desc: bool
    nulls_last: bool


@dataclass
class Query:
    text: str
    fields: list[Path]
    sobject: str
    sobject_pos: int
    where: Condition | None = None
    order: list[Order] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0


def error(text: str, pos: int, code: str, message: str) -> ApiError:
    """Salesforce points at the offending column of the query."""
    pointer = f"{text}\n{' ' * pos}^\nERROR at Row:1:Column:{pos + 1}\n{message}"
    return ApiError(400, code, pointer)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        found = _TOKEN.match(text, pos)
        if found is None:
            raise error(text, pos, "MALFORMED_QUERY", f"unexpected token: '{text[pos]}'")
        kind = found.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, found.group(), pos))
        pos = found.end()
    tokens.append(Token("eof", "<EOF>", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.at = 0

    def peek(self) -> Token:
        return self.tokens[self.at]

    def take(self) -> Token:
        token = self.tokens[self.at]
        self.at = min(self.at + 1, len(self.tokens) - 1)
        return token

    def fail(self, token: Token | None = None) -> ApiError:
        token = token or self.peek()
        return error(self.text, token.pos, "MALFORMED_QUERY", f"unexpected token: {token.text}")

    def accept(self, *words: str) -> str | None:
        word = self.peek().word()
        if word in words:
            self.take()
            return word
        return None

    def expect(self, word: str) -> None:
        if self.accept(word) is None:
            raise self.fail()

    def punct(self, char: str) -> bool:
        if self.peek().kind == "punct" and self.peek().text == char:
            self.take()
            return True
        return False

    def path(self) -> Path:
        token = self.take()
        if token.kind != "name":
            raise self.fail(token)
        return Path(token.text, token.pos)

    def query(self) -> Query:
        self.expect("select")
        fields = [self.path()]
        while self.punct(","):
            fields.append(self.path())
        self.expect("from")
        target = self.take()
        if target.kind != "name" or "." in target.text:
            raise self.fail(target)
        query = Query(self.text, fields, target.text, target.pos)
        if self.accept("where"):
            query.where = self.condition()
        if self.accept("order"):
            self.expect("by")
            query.order.append(self.order())
            while self.punct(","):
                query.order.append(self.order())
        if self.accept("limit"):
            query.limit = self.integer()
        if self.accept("offset"):
            query.offset = self.integer()
        if self.peek().kind != "eof":
            raise self.fail()
        return query

    def integer(self) -> int:
        token = self.take()
        if token.kind != "number" or not token.text.isdigit():
            raise self.fail(token)
        return int(token.text)

    def order(self) -> Order:
        path = self.path()
        desc = self.accept("asc", "desc") == "desc"
        nulls_last = desc
        if self.accept("nulls"):
            nulls_last = self.accept("first", "last") == "last"
        return Order(path, desc, nulls_last)

    def condition(self) -> Condition:
        parts = [self.unary()]
        joined: str | None = None
        while self.peek().word() in ("and", "or"):
            token = self.take()
            if joined is not None and token.word() != joined:
                raise self.fail(token)  # SOQL needs parentheses to mix AND and OR
            joined = token.word()
            parts.append(self.unary())
        return parts[0] if joined is None else Junction(joined, parts)

    def unary(self) -> Condition:
        if self.accept("not"):
            return Not(self.unary())
        if self.punct("("):
            inner = self.condition()
            if not self.punct(")"):
                raise self.fail()
            return inner
        return self.predicate()

    def predicate(self) -> Condition:
        path = self.path()
        if self.accept("not"):
            self.expect("in")
            return InList(path, self.values(), True)
        if self.accept("in"):
            return InList(path, self.values(), False)
        if self.accept("like"):
            token = self.peek()
            pattern = self.literal()
            if pattern.kind != "string":
                raise self.fail(token)
            return Like(path, _like(str(pattern.value)))
        op = self.take()
        if op.kind != "op":
            raise self.fail(op)
        return Compare(path, "!=" if op.text == "<>" else op.text, self.literal())

    def values(self) -> list[Literal]:
        if not self.punct("("):
            raise self.fail()
        found = [self.literal()]
        while self.punct(","):
            found.append(self.literal())
        if not self.punct(")"):
            raise self.fail()
        return found

    def literal(self) -> Literal:
        token = self.take()
        if token.kind == "string":
            return Literal("string", _unescape(token.text[1:-1]))
        if token.kind == "datetime":
            return Literal("datetime", parse_datetime(token.text))
        if token.kind == "date":
            return Literal("date", date.fromisoformat(token.text))
        if token.kind == "number":
            number = float(token.text) if "." in token.text else int(token.text)
            return Literal("number", number)
        if token.word() in ("true", "false"):
            return Literal("boolean", token.word() == "true")
        if token.word() == "null":
            return Literal("null", None)
        raise self.fail(token)


def _unescape(raw: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), raw)


def _like(pattern: str) -> re.Pattern[str]:
    out, chars = "", iter(pattern)
    for char in chars:
        if char == "\\":
            out += re.escape(next(chars, "\\"))
        else:
            out += {"%": ".*", "_": "."}.get(char, re.escape(char))
    return re.compile(out, re.IGNORECASE | re.DOTALL)


def parse(text: str) -> Query:
    return _Parser(text).query()
