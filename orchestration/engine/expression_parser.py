"""Tokenizer, syntax tree and recursive-descent parser for the text inside ``${...}``.

Precedence follows the table of Google's "Data types, functions, operators" page, most binding first:
``()``, ``.``, ``[]``, ``not``, unary ``-``, ``* / // %``, ``+ -``,
``< <= >= > == != in`` (one level), ``and``, ``or``. Note that ``not`` binds tighter than comparisons:
``not a in b`` is ``(not a) in b``, which is why workflows write ``not ("job" in body)``.

No Python ``eval`` is involved anywhere: the text is tokenized and parsed into frozen dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestration.engine.errors import WorkflowSyntaxError
from orchestration.engine.values import INT64_MAX, INT64_MIN

# --- Syntax tree -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Literal:
    """A constant: int, double, string, boolean or null."""

    value: Any


@dataclass(frozen=True, slots=True)
class Name:
    """A variable reference."""

    name: str


@dataclass(frozen=True, slots=True)
class Attr:
    """``target.name``: map key access with a literal key."""

    target: Expr
    name: str


@dataclass(frozen=True, slots=True)
class Index:
    """``target[index]``: map key or list element access with a computed subscript."""

    target: Expr
    index: Expr


@dataclass(frozen=True, slots=True)
class Call:
    """``name(args...)``; ``name`` is dotted for the standard library (``text.split``)."""

    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Unary:
    """``-x`` or ``not x``."""

    op: str
    operand: Expr


@dataclass(frozen=True, slots=True)
class Binary:
    """Arithmetic, comparison, membership and logical operators (``op`` is normalised lower-case)."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class ListLit:
    """``[a, b, ...]``."""

    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class MapLit:
    """``{"key": value, ...}``; keys are expressions that must evaluate to strings."""

    entries: tuple[tuple[Expr, Expr], ...]


Expr = Literal | Name | Attr | Index | Call | Unary | Binary | ListLit | MapLit

# --- Tokenizer -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "num", "str", "ident", "op", "end"
    value: Any
    pos: int  # 0-based offset in the expression text


# Longest first, so "//" wins over "/" and "<=" over "<".
# "=" is no Workflows operator: it is tokenized only to reject named arguments with a clear message.
_OPERATORS: tuple[str, ...] = ("//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "<", ">")
_OPERATORS += ("(", ")", "[", "]", "{", "}", ",", ".", ":", "=")
_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
# Google: logical operators "can be lower-case or upper-case (but not mixed-case)".
_KEYWORDS = {"and": "and", "AND": "and", "or": "or", "OR": "or", "not": "not", "NOT": "not", "in": "in"}
# Google: Boolean ``true``/``false``, ``True``/``False``, ``TRUE``/``FALSE``.
_CONSTANTS: dict[str, Any] = {"true": True, "True": True, "TRUE": True, "null": None}
_CONSTANTS |= {"false": False, "False": False, "FALSE": False}


class _Syntax:
    """Builds syntax errors that quote the expression and point at the column."""

    def __init__(self, text: str) -> None:
        self.text = text

    def error(self, message: str, pos: int) -> WorkflowSyntaxError:
        return WorkflowSyntaxError(f"invalid expression ${{{self.text}}}: {message} at column {pos + 1}")


def tokenize(text: str) -> list[Token]:
    """Split expression text into tokens; whitespace (newlines included) only separates them."""
    syntax = _Syntax(text)
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch.isdigit():
            i = _number(text, i, tokens, syntax)
        elif ch in "\"'":
            i = _string(text, i, tokens, syntax)
        elif ch.isalpha() or ch == "_":
            start = i
            while i < len(text) and (text[i].isalnum() or text[i] == "_"):
                i += 1
            tokens.append(Token("ident", text[start:i], start))
        else:
            op = next((op for op in _OPERATORS if text.startswith(op, i)), None)
            if op is None:
                raise syntax.error(f"unexpected character {ch!r}", i)
            tokens.append(Token("op", op, i))
            i += len(op)
    tokens.append(Token("end", None, len(text)))
    return tokens


def _number(text: str, i: int, tokens: list[Token], syntax: _Syntax) -> int:
    start = i
    while i < len(text) and text[i].isdigit():
        i += 1
    is_double = False
    if i + 1 < len(text) and text[i] == "." and text[i + 1].isdigit():
        is_double = True
        i += 1
        while i < len(text) and text[i].isdigit():
            i += 1
    if i < len(text) and text[i] in "eE":
        j = i + 1 + (i + 1 < len(text) and text[i + 1] in "+-")
        if j < len(text) and text[j].isdigit():
            is_double = True
            i = j
            while i < len(text) and text[i].isdigit():
                i += 1
    if i < len(text) and (text[i].isalpha() or text[i] == "_"):
        raise syntax.error(f"invalid number {text[start : i + 1]!r}", start)
    literal = text[start:i]
    tokens.append(Token("num", float(literal) if is_double else int(literal), start))
    return i


def _string(text: str, i: int, tokens: list[Token], syntax: _Syntax) -> int:
    quote, start = text[i], i
    chars: list[str] = []
    i += 1
    while True:
        if i >= len(text):
            raise syntax.error("unterminated string", start)
        ch = text[i]
        if ch == quote:
            tokens.append(Token("str", "".join(chars), start))
            return i + 1
        if ch != "\\":
            chars.append(ch)
            i += 1
            continue
        code = text[i + 1] if i + 1 < len(text) else ""
        if code == "u":
            digits = text[i + 2 : i + 6]
            if len(digits) != 4 or any(c not in "0123456789abcdefABCDEF" for c in digits):
                raise syntax.error("invalid \\u escape", i)
            chars.append(chr(int(digits, 16)))
            i += 6
        elif code in _ESCAPES:
            chars.append(_ESCAPES[code])
            i += 2
        else:
            raise syntax.error(f"invalid escape sequence \\{code}", i)


# --- Parser ----------------------------------------------------------------------------------------

_COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")


class _Parser:
    def __init__(self, text: str) -> None:
        self.syntax = _Syntax(text)
        self.tokens = tokenize(text)
        self.pos = 0

    # Token helpers: keywords are identifiers whose text is in _KEYWORDS.
    def peek(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def at_op(self, *ops: str) -> bool:
        token = self.peek()
        return token.kind == "op" and token.value in ops

    def at_keyword(self, word: str) -> bool:
        token = self.peek()
        return token.kind == "ident" and _KEYWORDS.get(token.value) == word

    def at_postfix(self, ahead: int) -> bool:
        token = self.tokens[self.pos + ahead]
        return token.kind == "op" and token.value in (".", "[", "(")

    def expect_op(self, op: str) -> Token:
        if not self.at_op(op):
            raise self.unexpected(f"expected {op!r}")
        return self.advance()

    def unexpected(self, hint: str) -> WorkflowSyntaxError:
        token = self.peek()
        found = "end of expression" if token.kind == "end" else repr(str(token.value))
        return self.syntax.error(f"{hint}, found {found}", token.pos)

    # Grammar, loosest binding first.
    def parse(self) -> Expr:
        if self.peek().kind == "end":
            raise self.syntax.error("empty expression", 0)
        expr = self.or_expr()
        if self.peek().kind != "end":
            raise self.unexpected("expected an operator or the end of the expression")
        return expr

    def or_expr(self) -> Expr:
        left = self.and_expr()
        while self.at_keyword("or"):
            self.advance()
            left = Binary("or", left, self.and_expr())
        return left

    def and_expr(self) -> Expr:
        left = self.comparison()
        while self.at_keyword("and"):
            self.advance()
            left = Binary("and", left, self.comparison())
        return left

    def comparison(self) -> Expr:
        left = self.additive()
        while self.at_op(*_COMPARISONS) or self.at_keyword("in"):
            token = self.advance()
            left = Binary("in" if token.kind == "ident" else token.value, left, self.additive())
        return left

    def additive(self) -> Expr:
        left = self.multiplicative()
        while self.at_op("+", "-"):
            left = Binary(self.advance().value, left, self.multiplicative())
        return left

    def multiplicative(self) -> Expr:
        left = self.unary()
        while self.at_op("*", "/", "//", "%"):
            left = Binary(self.advance().value, left, self.unary())
        return left

    def unary(self) -> Expr:
        if self.at_keyword("not"):
            self.advance()
            return Unary("not", self.unary())
        if self.at_op("-"):
            self.advance()
            # "-<number>" is one literal, so -9223372036854775808 (INT64_MIN) is expressible.
            token = self.peek()
            if token.kind == "num" and not self.at_postfix(1):
                self.advance()
                return _number_literal(-token.value, self)
            return Unary("-", self.unary())
        return self.postfix()

    def postfix(self) -> Expr:
        expr = self.primary()
        while True:
            if self.at_op("."):
                self.advance()
                token = self.advance()
                if token.kind != "ident":
                    self.pos -= 1
                    raise self.unexpected("expected a key name after '.'")
                expr = Attr(expr, token.value)
            elif self.at_op("["):
                self.advance()
                index = self.or_expr()
                self.expect_op("]")
                expr = Index(expr, index)
            elif self.at_op("("):
                expr = Call(self.callee_name(expr), self.arguments())
            else:
                return expr

    def callee_name(self, expr: Expr) -> str:
        """Only plain or dotted names can be called: ``len(x)``, ``text.split(s, ",")``."""
        parts: list[str] = []
        node = expr
        while isinstance(node, Attr):
            parts.append(node.name)
            node = node.target
        if not isinstance(node, Name):
            raise self.unexpected("only a function or subworkflow name can be called")
        parts.append(node.name)
        return ".".join(reversed(parts))

    def arguments(self) -> tuple[Expr, ...]:
        self.expect_op("(")
        args: list[Expr] = []
        while not self.at_op(")"):
            args.append(self.or_expr())
            if self.at_op("="):
                raise self.unexpected("named arguments are not allowed in expressions")
            if not self.at_op(")"):
                self.expect_op(",")
        self.advance()
        return tuple(args)

    def primary(self) -> Expr:
        token = self.peek()
        if token.kind == "num":
            self.advance()
            return _number_literal(token.value, self)
        if token.kind == "str":
            self.advance()
            return Literal(token.value)
        if token.kind == "ident":
            if token.value in _KEYWORDS:
                raise self.unexpected("expected a value")
            self.advance()
            if token.value in _CONSTANTS:
                return Literal(_CONSTANTS[token.value])
            return Name(token.value)
        if self.at_op("("):
            self.advance()
            inner = self.or_expr()
            self.expect_op(")")
            return inner
        if self.at_op("["):
            return ListLit(self.sequence("]", self.or_expr))
        if self.at_op("{"):
            return MapLit(self.sequence("}", self.map_entry))
        raise self.unexpected("expected a value")

    def sequence(self, close: str, item: Any) -> tuple[Any, ...]:
        self.advance()
        items: list[Any] = []
        while not self.at_op(close):
            items.append(item())
            if not self.at_op(close):
                self.expect_op(",")
        self.advance()
        return tuple(items)

    def map_entry(self) -> tuple[Expr, Expr]:
        key = self.or_expr()
        self.expect_op(":")
        return key, self.or_expr()


def _number_literal(value: int | float, parser: _Parser) -> Literal:
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        token = parser.tokens[parser.pos - 1]
        raise parser.syntax.error("integer literal does not fit in 64 bits", token.pos)
    return Literal(value)


def parse(text: str) -> Expr:
    """Parse the text inside ``${...}``; raises ``WorkflowSyntaxError`` naming the column."""
    return _Parser(text).parse()
