"""Conformance tests for the local engine's expression language and standard library.

Each group quotes the page of Google's Workflows reference its cases come from; the expected values
and error tags are the documented ones. Cases marked "engine choice" cover behaviour the reference
leaves open, pinned so it does not drift.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from orchestration.engine.errors import (
    WorkflowError,
    WorkflowSyntaxError,
    index_error,
    key_error,
    system_error,
    type_error,
    value_error,
    zero_division_error,
)
from orchestration.engine.expressions import (
    FunctionRef,
    evaluate,
    function_names,
    is_expression,
    parse_expression,
)
from orchestration.engine.stdlib import make_functions


class DictScope:
    """A scope over a dict of variables, with one subworkflow ``double_it(x)``."""

    def __init__(self, **variables: Any) -> None:
        self.variables = variables

    def lookup(self, name: str) -> Any:
        if name not in self.variables:
            raise key_error(f"variable not found: {name}")
        return self.variables[name]

    def call(self, name: str, args: list[Any]) -> Any:
        if name == "double_it":
            return args[0] * 2
        raise key_error(f"unknown function or subworkflow: {name}")


ENV = {"GOOGLE_CLOUD_PROJECT_ID": "demo-project", "GOOGLE_CLOUD_LOCATION": "us-central1"}
FUNCTIONS = make_functions(ENV, lambda: 1715172805.2818468)


def ev(text: str, **variables: Any) -> Any:
    """Evaluate one expression (the text inside ``${...}``)."""
    return evaluate("${" + text + "}", DictScope(**variables), functions=FUNCTIONS)


def tags_of(text: str, **variables: Any) -> list[str]:
    with pytest.raises(WorkflowError) as caught:
        ev(text, **variables)
    return caught.value.tags


# --- "Data types, functions, operators" (reference/syntax/datatypes) -------------------------------
# Boolean literals: true/false, True/False, TRUE/FALSE; null; integers and doubles.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("False", False),
        ("FALSE", False),
        ("null", None),
        ("42", 42),
        ("4.5", 4.5),
        ("1e3", 1000.0),
        ("-9223372036854775808", -(2**63)),
        ('"tab\\tquote\\" \\u00e9"', 'tab\tquote" é'),
        ("'single'", "single"),
    ],
)
def test_literals(text: str, expected: Any) -> None:
    result = ev(text)
    assert result == expected and type(result) is type(expected)


# Order of operations: () . [] not, unary -, * / // %, + -, comparisons/in, and, or.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 4 - 3", 3),
        ("2 * 3 % 4", 2),
        ("-2 * 3", -6),
        ("1 + 2 == 3", True),
        ("1 < 2 and 2 < 3", True),
        ("true or false and false", True),  # and binds tighter than or
        ("(true or false) and false", False),
        ("not false and true", True),
        ("m.a[1] + 1", 3),
        ("- m.a[0]", -1),
    ],
)
def test_operator_precedence(text: str, expected: Any) -> None:
    assert ev(text, m={"a": [1, 2]}) == expected


def test_not_binds_tighter_than_membership() -> None:
    # The table puts "not" above "in": `not "x" in list` is `(not "x") in list`, a TypeError on a
    # string; workflows therefore write `not ("x" in list)`.
    assert tags_of('not "x" in ["x"]') == ["TypeError"]
    assert ev('not ("x" in ["x"])') is False


# Implicit conversions: int op int is int, a double anywhere makes a double, "/" is float division.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2 + 3", 5),
        ("2 + 3.0", 5.0),
        ("2.5 + 2.5", 5.0),
        ("7 - 2", 5),
        ("3 * 1.5", 4.5),
        ("7 / 2", 3.5),
        ("4 / 2", 2.0),
        ("7 // 2", 3),
        ("-7 // 2", -4),  # engine choice: floor, as the name "floor division" says
        ("7.5 // 2", 3.0),
        ("7 % 3", 1),
        ("-7 % 3", 2),  # engine choice: remainder paired with floor division
        ("5.5 % 2", 1.5),
    ],
)
def test_arithmetic_int_and_double(text: str, expected: Any) -> None:
    result = ev(text)
    assert result == expected and type(result) is type(expected)


# "+ operator" table: STRING with INTEGER, DOUBLE, STRING or BOOL gives STRING; BOOL with numbers errors.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"Hello, " + "World"', "Hello, World"),
        ('"n=" + 1', "n=1"),
        ('1 + "x"', "1x"),
        ('"d=" + 1.5', "d=1.5"),
        ('"b=" + true', "b=true"),
        ('false + "!"', "false!"),
    ],
)
def test_string_concatenation(text: str, expected: str) -> None:
    assert ev(text) == expected


@pytest.mark.parametrize(
    "text", ["true + 1", "1.5 + false", "true + true", '"a" + null', "[1] + [2]", '"a" * 2']
)
def test_operand_type_errors(text: str) -> None:
    assert tags_of(text) == ["TypeError"]


@pytest.mark.parametrize("text", ["1 / 0", "1 // 0", "1 % 0", "1.0 / 0.0"])
def test_division_by_zero(text: str) -> None:
    assert tags_of(text) == ["ZeroDivisionError"]


def test_integers_are_64_bit() -> None:
    assert tags_of("9223372036854775807 + 1") == ["ValueError"]  # engine choice of tag
    with pytest.raises(WorkflowSyntaxError, match="64 bits"):
        parse_expression("9223372036854775808")


# Logical operators "can be used only on boolean values"; upper-case forms are allowed.
def test_logical_operators() -> None:
    assert ev("true AND NOT false") is True
    assert ev("false OR true") is True
    assert tags_of("1 and true") == ["TypeError"]
    assert tags_of("not 1") == ["TypeError"]


def test_logical_operators_short_circuit() -> None:
    # The right operand is not evaluated when the left decides: no KeyError for the missing variable.
    assert ev("false and missing") is False
    assert ev("true or missing") is True
    assert tags_of("true and missing") == ["KeyError"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 == 1.0", True),
        ('1 == "1"', False),
        ("true == 1", False),
        ("null == null", True),
        ("[1, [2]] == [1, [2.0]]", True),
        ('{"a": 1} == {"a": 1}', True),
        ("1 != 2", True),
        ('"abc" < "abd"', True),
        ("2 >= 2.0", True),
    ],
)
def test_comparison(text: str, expected: bool) -> None:
    assert ev(text) is expected


def test_ordering_incompatible_types_is_a_type_error() -> None:
    assert tags_of('1 < "2"') == ["TypeError"]


# --- "Lists" and "Maps" (reference/syntax/lists, reference/syntax/maps) ----------------------------
def test_list_and_map_access() -> None:
    my_map = {"Name": "Lila", "Address": {"Country": "Canada"}, "special!key": 1}
    assert ev("my_map.Address.Country", my_map=my_map) == "Canada"
    assert ev('my_map["Address"]["Country"]', my_map=my_map) == "Canada"
    assert ev('my_map["special!key"]', my_map=my_map) == 1
    assert ev("my_map[k]", my_map=my_map, k="Name") == "Lila"
    months = {"body": ["Jan", "Feb", "Mar"]}
    assert ev("monthsList.body[2]", monthsList=months) == "Mar"
    assert ev("l[len(l) - 1]", l=[1, 2, 3]) == 3
    assert ev("l[0][1]", l=[[10, 11]]) == 11


def test_access_errors() -> None:
    assert tags_of("missing") == ["KeyError"]
    assert tags_of("m.nope", m={}) == ["KeyError"]
    assert tags_of('m["nope"]', m={}) == ["KeyError"]
    assert tags_of("l[3]", l=[1, 2, 3]) == ["IndexError"]
    assert tags_of("l[-1]", l=[1, 2, 3]) == ["IndexError"]  # engine choice: no negative indexes
    assert tags_of('l["0"]', l=[1]) == ["TypeError"]
    assert tags_of("s.key", s="text") == ["TypeError"]


# "Check existence of a key in a list / in a map" (Expression helpers: in()).
def test_membership() -> None:
    assert ev('"Grzegorz" in my_list', my_list=["Grzegorz", "Irina"]) is True
    assert ev("3 in [1, 2]") is False
    assert ev('"key1" in my_map', my_map={"key1": "hello"}) is True
    assert ev('"nope" in my_map', my_map={"key1": "hello"}) is False
    # "Workflow errors": check for a tag with ${'SystemError' in e.tags}.
    assert ev("'SystemError' in e.tags", e=system_error("boom").as_value()) is True
    assert tags_of('"a" in "abc"') == ["TypeError"]


# --- "Expression helpers" (reference/stdlib/expression-helpers) -------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('double("2.5")', 2.5),
        ("double(2)", 2.0),
        ('int("42")', 42),
        ("int(2.7)", 2),
        ("int(-2.7)", -2),
        ("string(1)", "1"),
        ("string(1.7)", "1.7"),
        ("string(true)", "true"),
        ("keys(m)", ["a", "b"]),
        ("len(l)", 3),
        ("len(m)", 2),
        ('len("héllo")', 5),
        ('default(null, "x")', "x"),
        ('default("v", "x")', "v"),
        ('default(map.get(m, "zz"), "fallback")', "fallback"),
        ('if(1 < 2, "yes", "no")', "yes"),
        ('if(null, "yes", "no")', "no"),
    ],
)
def test_expression_helpers(text: str, expected: Any) -> None:
    result = ev(text, m={"a": 1, "b": 2}, l=[1, 2, 3])
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ('int("4x")', "ValueError"),
        ('double("abc")', "ValueError"),
        ("int(true)", "TypeError"),
        ("string(null)", "TypeError"),
        ("string([1])", "TypeError"),
        ("keys([1])", "TypeError"),
        ("len(1)", "TypeError"),
        ('if(1, "a", "b")', "TypeError"),
        ("len(1, 2)", "TypeError"),  # argument count
    ],
)
def test_expression_helper_errors(text: str, tag: str) -> None:
    assert tags_of(text) == [tag]


# --- map and list modules (reference/stdlib/map/get, list/concat, map/merge) -------------------------
def test_map_get() -> None:
    my_map = {"key1": "hello", "key2": "world"}
    assert ev('map.get(my_map, "key2")', my_map=my_map) == "world"  # documented example
    assert ev('map.get(m, ["a", "b"])', m={"a": {"b": 7}}) == 7  # nested key lookup
    assert ev('map.get(m, ["a", "zz"])', m={"a": {"b": 7}}) is None
    assert ev('map.get("not a map", "k")') is None
    assert tags_of("map.get(m, 1)", m={}) == ["TypeError"]


def test_map_merge_and_delete() -> None:
    assert ev("map.merge(a, b)", a={"x": 1, "y": 1}, b={"y": 2}) == {"x": 1, "y": 2}
    assert ev('map.delete(a, "x")', a={"x": 1, "y": 1}) == {"y": 1}
    assert tags_of("map.merge(a, 1)", a={}) == ["TypeError"]


def test_list_concat() -> None:
    my_list = ["zero", "one", "two"]
    assert ev('list.concat(my_list, "three")', my_list=my_list) == ["zero", "one", "two", "three"]
    assert my_list == ["zero", "one", "two"]  # "Note that this list is not modified."
    assert ev("list.prepend([2], 1)") == [1, 2]
    assert tags_of("list.concat(1, 2)") == ["TypeError"]


# --- text module (reference/stdlib/text/*) -------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('text.split("baaab", "aa")', ["b", "ab"]),
        ('text.split("abc", "a")', ["", "bc"]),
        ('text.split("abc", "c")', ["ab", ""]),
        ('text.split("abbc", "b")', ["a", "", "c"]),
        ('text.split("abc", "x")', ["abc"]),
        ('text.replace_all("Hello World", "Hello", "Goodbye")', "Goodbye World"),
        ('text.replace_all("ab", "", "-")', "-a-b-"),
        ('text.find_all("00000", "00")', [0, 2]),
        ('text.find_all("Hello World", "l")', [2, 3, 9]),
        ('text.find_all("abc", "z")', []),
        ('text.substring("hello", 2, 4)', "ll"),
        ('text.substring("hello", -10, 10)', "hello"),
        ('text.substring("hello", -3, -1)', "ll"),
        ('text.to_lower("MiXeD")', "mixed"),
        ('text.to_upper("MiXeD")', "MIXED"),
        ('text.url_encode("runs/r 1/result.json")', "runs%2Fr%201%2Fresult.json"),
        ('text.url_decode("a%2Fb")', "a/b"),
    ],
)
def test_text_functions(text: str, expected: Any) -> None:
    assert ev(text) == expected


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ('text.split(1, ",")', "TypeError"),
        ('text.split("a", "")', "ValueError"),
        ('text.replace_all("a", 1, "b")', "TypeError"),
        ('text.find_all("a", 1)', "TypeError"),
        ('text.substring("a", "0", 1)', "TypeError"),
        ("text.to_upper(1)", "TypeError"),
        ('text.decode("not bytes")', "TypeError"),
        ('text.encode("x", "NO-SUCH-CHARSET")', "ValueError"),
        ('text.encode("é", "US-ASCII")', "ValueError"),
    ],
)
def test_text_errors(text: str, tag: str) -> None:
    assert tags_of(text) == [tag]


def test_text_encode_decode() -> None:
    # text.encode page: base64 of text.encode("Hello World", "UTF-8") is "SGVsbG8gV29ybGQ=".
    assert ev('base64.encode(text.encode("Hello World", "UTF-8"))') == "SGVsbG8gV29ybGQ="
    # text.decode page: decoding base64 "SGVsbG8gV29ybGQ=" gives "Hello World".
    assert ev('text.decode(base64.decode("SGVsbG8gV29ybGQ="), "UTF-8")') == "Hello World"
    encoded = ev('text.encode("héllo")')
    assert isinstance(encoded, bytes) and encoded == "héllo".encode()
    # "Each byte that cannot be correctly decoded ... is represented by the \uFFFD codepoint."
    assert ev("text.decode(b)", b=b"a\xffb") == "a\ufffdb"


# --- json and base64 modules (reference/stdlib/json/*, base64/*) ------------------------------------
def test_json() -> None:
    assert ev('json.decode("{\\"a\\": [1, 2.5, true, null]}")') == {"a": [1, 2.5, True, None]}
    assert ev("json.decode(b)", b=b'{"x": "y"}') == {"x": "y"}
    encoded = ev("json.encode(m)", m={"hello": "world"})
    assert isinstance(encoded, bytes) and json.loads(encoded) == {"hello": "world"}
    assert ev("json.encode_to_string(m)", m={"key1": "hello"}) == '{"key1":"hello"}'
    assert ev("json.encode_to_string(m, true)", m={"a": 1}) == '{\n    "a": 1\n}'
    indent = {"prefix": ">", "indent": "  "}
    assert ev("json.encode_to_string(m, i)", m={"a": [1]}, i=indent) == '{\n>  "a": [\n>    1\n>  ]\n>}'
    # "Error access: json.decode(text.encode(ERROR_FROM_API))" from the "Workflow errors" page.
    assert ev("json.decode(text.encode(s))", s='{"code": 404}') == {"code": 404}


def test_json_errors() -> None:
    assert tags_of('json.decode("{nope")') == ["ValueError"]
    assert tags_of("json.encode(b)", b=b"bytes") == ["ValueError"]  # "types such as ... bytes"
    assert tags_of("json.decode(1)") == ["TypeError"]


def test_base64() -> None:
    assert ev('base64.decode("aGk=")') == b"hi"
    assert ev('base64.decode("aG\\r\\nk=")') == b"hi"  # "\r and \n in the input are ignored"
    assert ev('base64.decode("aGk", false)') == b"hi"
    assert ev('base64.encode(text.encode("hi"), false)') == "aGk"
    assert tags_of('base64.decode("aGk")') == ["ValueError"]  # padding == true, not a multiple of 4
    assert tags_of('base64.decode("a*k=")') == ["ValueError"]  # outside of the Base64 alphabet
    assert tags_of('base64.encode("a string")') == ["TypeError"]


def test_eventarc_pubsub_decode_idiom() -> None:
    # DESIGN.md (Eventarc Pub/Sub input) and the json.decode page's Pub/Sub example.
    payload = {"job": "solve-linear-ticket", "ticket": "IX-123"}
    data = base64.b64encode(json.dumps(payload).encode()).decode()
    event = {"data": {"message": {"data": data, "messageId": "1"}}}
    text = "${json.decode(text.decode(base64.decode(event.data.message.data)))}"
    assert evaluate(text, DictScope(event=event), functions=FUNCTIONS) == payload
    # json.decode accepts the bytes directly too, as in Google's pullMessage example.
    assert ev("json.decode(base64.decode(event.data.message.data))", event=event) == payload


# --- sys, time, math, uuid (reference/stdlib/sys/*, time/format, math/abs, uuid/generate) -----------
def test_sys_get_env() -> None:
    assert ev('sys.get_env("GOOGLE_CLOUD_PROJECT_ID")') == "demo-project"
    assert ev('sys.get_env("GOOGLE_CLOUD_LOCATION")') == "us-central1"
    # "If the specified variable is not set, returns the default value instead."
    assert ev('sys.get_env("UNSET", "fallback")') == "fallback"
    assert ev('sys.get_env("UNSET")') is None
    assert tags_of("sys.get_env(1)") == ["TypeError"]
    assert tags_of('sys.get_env("X", 1)') == ["TypeError"]


def test_sys_now_uses_the_injected_clock() -> None:
    assert ev("sys.now()") == 1715172805.2818468


def test_time_format() -> None:
    assert ev('time.format(1720788633, "GMT")') == "2024-07-12T12:50:33.000000Z"
    assert ev("time.format(1720788633)") == "2024-07-12T12:50:33.000000Z"
    assert ev('time.format(1720788633, "Europe/Paris")') == "2024-07-12T14:50:33.000000+02:00"
    assert ev("time.format(sys.now())").startswith("2024-05-08T")
    assert tags_of('time.format("x")') == ["TypeError"]


def test_time_parse() -> None:
    """reference/stdlib/time/parse: RFC 3339 section 5.6, up to microseconds, to seconds since the
    epoch as a double; its example, 2024-05-08T12:01:00.000000Z, is 1715169660."""
    assert ev('time.parse("2024-05-08T12:01:00.000000Z")') == 1715169660.0
    assert ev('time.parse("2024-07-12T14:50:33.5+02:00")') == 1720788633.5
    assert ev("time.parse(time.format(1720788633))") == 1720788633.0
    assert tags_of("time.parse(1)") == ["TypeError"]
    for bad in ("2024-05-08", "2024-05-08 12:01:00Z", "2024-05-08T12:01:00", "yesterday"):
        assert tags_of(f'time.parse("{bad}")') == ["ValueError"], bad


def test_math() -> None:
    assert ev("math.abs(-123)") == 123
    assert ev("math.abs(-1.5)") == 1.5
    assert tags_of("math.abs(-9223372036854775808)") == ["ValueError"]  # "If x is MinInt64"
    assert tags_of('math.abs("1")') == ["TypeError"]
    assert ev("math.max(1, 2.5)") == 2.5
    assert ev("math.min(1, 2.5)") == 1


def test_uuid_generate() -> None:
    first, second = ev("uuid.generate()"), ev("uuid.generate()")
    assert len(first) == 36 and first.count("-") == 4 and first != second


# --- Expressions page: subworkflow calls, function references -------------------------------------
def test_subworkflow_called_in_an_expression() -> None:
    assert ev("double_it(21) + 1") == 43
    assert tags_of("nope(1)") == ["KeyError"]


def test_function_reference_is_not_a_call() -> None:
    assert ev("http.default_retry_predicate") == FunctionRef("http.default_retry_predicate")
    # A variable of the same name wins over the library reference.
    assert ev("http.default_retry_predicate", http={"default_retry_predicate": 1}) == 1


# --- evaluate(): recursion over YAML values -------------------------------------------------------
def test_evaluate_recurses_into_maps_and_lists() -> None:
    assert evaluate({"a": "${1+2}", "b": ["${x}", 3]}, DictScope(x=5)) == {"a": 3, "b": [5, 3]}


def test_evaluate_dynamic_map_keys() -> None:
    # "Maps" page: myMap: {"${dynamicKey}": "myValue"}.
    scope = DictScope(dynamicKey="myKey")
    assert evaluate({"${dynamicKey}": "myValue"}, scope) == {"myKey": "myValue"}
    assert evaluate({'${dynamicKey + "Apple"}': "v"}, scope) == {"myKeyApple": "v"}
    with pytest.raises(WorkflowError, match="map keys"):
        evaluate({"${1}": "v"}, scope)


def test_is_expression_and_text_around_it() -> None:
    assert is_expression("${x}")
    assert not is_expression("id-${x}")  # text around ${} is a plain string, never interpolated
    assert not is_expression("${x} tail")
    assert not is_expression(42)
    assert evaluate("id-${x}", DictScope(x=1)) == "id-${x}"
    assert evaluate([1, None, True, "plain"], DictScope()) == [1, None, True, "plain"]


def test_multiline_expression() -> None:
    assert ev('"a" +\n  "b"') == "ab"


def test_function_names_for_load_time_checks() -> None:
    expr = parse_expression("json.decode(text.decode(base64.decode(e.data))) == [len(x), sub(1)]")
    assert function_names(expr) == {"json.decode", "text.decode", "base64.decode", "len", "sub"}


# --- Syntax errors: rejected at load time with the column -----------------------------------------
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("(1 + 2", "expected ')'"),
        ("a[1", "expected ']'"),
        ("[1, 2", "expected ','"),
        ("1 +", "expected a value, found end of expression at column 4"),
        ("1 + * 2", "expected a value, found '*' at column 5"),
        ("a and", "expected a value"),
        ("1 # 2", "unexpected character '#' at column 3"),
        ("a & b", "unexpected character '&'"),
        ("1 2", "expected an operator or the end of the expression"),
        ('"open', "unterminated string"),
        ('"bad \\q"', "invalid escape sequence"),
        ("", "empty expression"),
        ("f(a=1)", "named arguments are not allowed"),
        ("(1)(2)", "only a function or subworkflow name can be called"),
        ("a.1", "expected a key name after '.'"),
        ("12abc", "invalid number"),
    ],
)
def test_syntax_errors(text: str, message: str) -> None:
    with pytest.raises(WorkflowSyntaxError) as caught:
        parse_expression(text)
    assert message in str(caught.value)


def test_syntax_error_in_evaluate_names_the_expression() -> None:
    with pytest.raises(WorkflowSyntaxError, match=r"invalid expression \$\{1 \+\}"):
        evaluate("${1 +}", DictScope())


# --- errors.py: the shapes a try/except step sees -------------------------------------------------
def test_error_values_and_tags() -> None:
    constructors = [key_error, type_error, value_error, index_error, zero_division_error, system_error]
    tags = [c("m").tags for c in constructors]
    expected_tags = ["KeyError", "TypeError", "ValueError", "IndexError", "ZeroDivisionError", "SystemError"]
    assert tags == [[tag] for tag in expected_tags]
    http = WorkflowError(["HttpError"], "Not Found", code=404, body={"e": 1}, headers={})
    expected = {"message": "Not Found", "tags": ["HttpError"], "code": 404, "body": {"e": 1}, "headers": {}}
    assert http.as_value() == expected
    assert str(WorkflowSyntaxError("bad", file="factory.yaml", line=12)) == "factory.yaml:12: bad"
    assert str(WorkflowSyntaxError("bad", file="factory.yaml")) == "factory.yaml: bad"
    assert str(WorkflowSyntaxError("bad")) == "bad"
