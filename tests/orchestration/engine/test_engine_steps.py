"""Conformance tests of the local Workflows engine's loader and step executor.

Each group is built from the examples of Google's Workflows syntax reference (the page and section are
named above each group; the workflow files live in ``tests/workflows/``) and asserts the documented
result or error. HTTP goes to an ``httpx.MockTransport``; sleeps and logs are recorded, never real.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from orchestration.engine.errors import WorkflowError, WorkflowSyntaxError
from orchestration.engine.executor import Executor
from orchestration.engine.flow import StepEvent
from orchestration.engine.loader import load_workflow
from orchestration.engine.model import Workflow
from orchestration.engine.signatures import PARAMETERS, positional
from orchestration.engine.stdlib import make_functions
from tests.conftest import TESTS

WORKFLOWS = TESTS / "workflows"
Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class Run:
    """One execution's observable effects."""

    result: Any = None
    error: WorkflowError | None = None
    requests: list[httpx.Request] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)
    logs: list[tuple[str, Any]] = field(default_factory=list)
    events: list[StepEvent] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [str(request.url) for request in self.requests]


def load(name: str, **kwargs: Any) -> Workflow:
    path = WORKFLOWS / name
    return load_workflow(path.read_text(), str(path), **kwargs)


def run(
    workflow: Workflow,
    argument: Any = None,
    *,
    handler: Handler | None = None,
    connectors: dict[str, Callable[[dict[str, Any]], Any]] | None = None,
    env: dict[str, str] | None = None,
) -> Run:
    """Execute ``workflow``; an uncaught ``WorkflowError`` is recorded, not raised."""
    outcome = Run()

    def transport(request: httpx.Request) -> httpx.Response:
        outcome.requests.append(request)
        return handler(request) if handler else httpx.Response(200, json={})

    executor = Executor(
        workflow,
        connectors or {},
        make_functions(env or {}, lambda: 0.0),
        sleep=outcome.sleeps.append,
        log_sink=lambda severity, payload: outcome.logs.append((severity, payload)),
        on_step=lambda _name, event: outcome.events.append(event),
        http=httpx.Client(transport=httpx.MockTransport(transport)),
    )
    try:
        outcome.result = executor.run(argument)
    except WorkflowError as error:
        outcome.error = error
    return outcome


def load_error(text: str, **kwargs: Any) -> str:
    """The load-time error for a workflow given inline (line 1 is the first line of ``text``)."""
    with pytest.raises(WorkflowSyntaxError) as caught:
        load_workflow(textwrap.dedent(text).lstrip("\n"), "bad.yaml", **kwargs)
    return str(caught.value)


# --- Syntax reference > Steps: explicit ordering with next, next: end -------------------------------


def test_next_jumps_and_end_stops_the_workflow() -> None:
    outcome = run(load("steps_jumps.yaml"))
    assert outcome.urls == [
        "https://www.somewhere.com/callA",
        "https://www.somewhere.com/callC",
        "https://www.somewhere.com/callB",
    ]
    assert outcome.result is None  # next: end returns no value


# --- Syntax reference > Conditions: conditional jumps, the step's own next, embedded steps -----------


@pytest.mark.parametrize(
    ("some_field", "called"),
    [(5, "SmallFunc"), (50, "MediumFunc"), (500, "LargeFunc")],
)
def test_switch_takes_the_first_true_condition_else_the_steps_next(some_field: int, called: str) -> None:
    outcome = run(
        load("conditional_jump.yaml"), handler=lambda _r: httpx.Response(200, json={"SomeField": some_field})
    )
    assert outcome.urls == ["https://www.example.com/callA", f"https://www.example.com/{called}"]


def test_switch_runs_nested_steps_and_returns_from_them() -> None:
    assert run(load("switch_embedded.yaml")).result == "increase a to:8"


# --- Syntax cheat sheet (Lists), Maps page (update a map), Variables page (passing by value) ---------


def test_assign_targets_list_indexes_map_keys_and_copies_values() -> None:
    assert run(load("assign.yaml")).result == {
        "list": [0, 1, 2],
        "map": {"Key1": "Value1", "Key2": "Value2", "Key3": "Value3"},
        "a": {"x": 1},  # b: ${a} copied a, so b.x: 2 left a alone
        "b": {"x": 2},
    }


# --- Syntax reference > Iteration: lists, maps via keys(), inclusive ranges, break/continue, scope ----

ITERATION = load("iteration.yaml")


@pytest.mark.parametrize(
    ("which", "expected"),
    [
        ("list", 15),  # workflows-iterate-for-in: 1 + ... + 5
        ("map", 60),  # workflows-iterate-map: 10 + 20 + 30 through keys(map)
        ("range", 45),  # workflows-iterate-for-range: [1, 9], both ends inclusive
        ("break_continue", [16, [0, 2, 4, 6]]),  # odd values up to 7, with their index
        ("scope", [8]),  # workflows-loop-scope: the last inner value reached the outer variable
    ],
)
def test_for_loops(which: str, expected: Any) -> None:
    assert run(ITERATION, which).result == expected


def test_a_variable_created_in_a_loop_is_gone_after_it() -> None:
    outcome = run(ITERATION, "after_loop")
    assert outcome.error is not None and outcome.error.tags == ["KeyError"]
    assert "created" in outcome.error.message


def test_for_over_a_map_itself_is_a_type_error() -> None:
    workflow = load_workflow(
        textwrap.dedent(
            """
            - loop:
                for:
                  value: k
                  in: {"a": 1}
                  steps:
                    - noop:
                        assign:
                          - x: ${k}
            """
        ),
        "map.yaml",
    )
    outcome = run(workflow)
    assert outcome.error is not None and outcome.error.tags == ["TypeError"]


@pytest.mark.parametrize(
    ("which", "expected"),
    [
        ("doubles", [-1.5, -0.5, 0.5, 1.5, 2.5]),  # iterate_for_range_http: doubles, step 1, end inclusive
        ("indexes", ["a", "b", "c"]),  # parallel_for_range: ${[0, len(list) - 1]}
    ],
)
def test_range_given_as_one_expression(which: str, expected: list[Any]) -> None:
    assert run(load("range_expression.yaml"), which).result == expected


def test_a_range_expression_that_is_not_two_numbers_is_a_type_error() -> None:
    outcome = run(load("range_expression.yaml"), "not_a_pair")
    assert outcome.error is not None and outcome.error.tags == ["TypeError"]


# --- Syntax reference > Retry steps; sample workflows-error-retry-predicate -------------------------


def flaky(failures: int, status: int = 503) -> Handler:
    """Fail ``failures`` times with ``status``, then answer 200 with a JSON body."""
    calls = {"n": 0}

    def handler(_request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] <= failures:
            return httpx.Response(status, json={"error": "busy"})
        return httpx.Response(200, json={"ok": calls["n"]})

    return handler


def test_retry_with_a_standard_predicate_sleeps_the_backoff() -> None:
    outcome = run(load("retry.yaml"), "standard", handler=flaky(3))
    assert outcome.result == {"ok": 4}
    # initial_delay 2, multiplied by 2, capped at max_delay 5.
    assert outcome.sleeps == [2.0, 4.0, 5.0]


def test_default_retry_policy_uses_the_default_backoff() -> None:
    outcome = run(load("retry.yaml"), "default_retry", handler=flaky(2, status=429))
    assert outcome.result == {"ok": 3}
    assert outcome.sleeps == [1.0, 1.25]  # retry.default_backoff: 1 s, then times 1.25


def test_default_retry_predicate_does_not_retry_a_500() -> None:
    outcome = run(load("retry.yaml"), "default_retry", handler=flaky(1, status=500))
    assert outcome.error is not None and outcome.error.extra["code"] == 500
    assert outcome.sleeps == []


def test_retries_are_exhausted_then_except_gets_the_error() -> None:
    outcome = run(load("retry.yaml"), "exhausted", handler=lambda _r: httpx.Response(503))
    assert outcome.result == {"code": 503, "tags": ["HttpError"]}
    assert len(outcome.requests) == 3  # the first try and max_retries: 2
    assert outcome.sleeps == [1.0, 3.0]


def test_custom_predicate_receives_the_error_map_and_can_refuse() -> None:
    # "Expected outcome: the execution fails and returns an HTTP 404 Not Found error".
    outcome = run(load("retry.yaml"), "custom_predicate", handler=lambda _r: httpx.Response(404, text="nope"))
    assert outcome.error is not None
    assert outcome.error.tags == ["HttpError"] and outcome.error.extra["code"] == 404
    assert outcome.logs == [
        ("INFO", json.dumps(["HttpError"])),
        ("INFO", "HTTP server responded with error code 404"),
        ("INFO", "404"),
    ]
    assert outcome.sleeps == [] and len(outcome.requests) == 1


def test_custom_predicate_that_says_retry() -> None:
    calls = iter([httpx.Response(202), httpx.Response(200, json="done")])
    outcome = run(load("retry.yaml"), "custom_predicate", handler=lambda _r: next(calls))
    # 202 is a success status, so nothing is retried and the sample's last step answers.
    assert outcome.result == "OK" and outcome.sleeps == []


# --- Syntax reference > Raise errors and Catching errors ---------------------------------------------

ERRORS = load("errors.yaml")


def test_raised_string_is_caught_as_the_string() -> None:
    assert run(ERRORS, "string").result == "Something went wrong."


def test_raised_map_is_caught_as_the_map() -> None:
    assert run(ERRORS, "map").result == {"code": 55, "message": "Something went wrong."}


def test_uncaught_raise_fails_the_execution_with_its_map() -> None:
    outcome = run(ERRORS, "uncaught")
    assert outcome.error is not None
    assert outcome.error.tags == ["MyError"]
    assert outcome.error.as_value() == {"code": 55, "message": "Something went wrong.", "tags": ["MyError"]}


@pytest.mark.parametrize(
    ("status", "expected"),
    [(200, {"found": True}), (404, "Sorry, URL wasn't found"), (403, "Authentication error")],
)
def test_except_routes_on_the_http_error_code(status: int, expected: Any) -> None:
    outcome = run(
        ERRORS, "https://example.com/someapi", handler=lambda _r: httpx.Response(status, json={"found": True})
    )
    assert outcome.result == expected


def test_other_http_errors_are_re_raised_with_code_body_and_headers() -> None:
    outcome = run(
        ERRORS, "https://example.com/someapi", handler=lambda _r: httpx.Response(500, json={"why": "x"})
    )
    assert outcome.error is not None
    value = outcome.error.as_value()
    assert value["tags"] == ["HttpError"] and value["code"] == 500 and value["body"] == {"why": "x"}
    assert value["headers"]["content-type"] == "application/json"


def test_a_refused_connection_is_connection_failed_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    assert (
        run(ERRORS, "https://example.com/someapi", handler=refuse).result == "Connection problem; check URL"
    )


# --- Syntax reference > Subworkflows: params, defaults, calls by name and by position ---------------

SUBWORKFLOWS = load("subworkflows.yaml")


def test_subworkflow_defaults_and_expression_calls() -> None:
    assert run(SUBWORKFLOWS, "greet").result == (
        "Hello Sherlock Holmes from England. Hello Ada Lovelace from the United Kingdom. "
        "Hello Grace Hopper from the USA."
    )


def test_missing_required_parameter_is_an_error() -> None:
    outcome = run(SUBWORKFLOWS, "missing")
    assert outcome.error is not None and outcome.error.tags == ["TypeError"]
    assert "first_name" in outcome.error.message


def test_next_end_and_falling_off_the_end_return_null() -> None:
    assert run(SUBWORKFLOWS, "end").result == {"nothing": None, "falls_off": None}


def test_variables_are_per_subworkflow_call() -> None:
    workflow = load_workflow(
        textwrap.dedent(
            """
            main:
              steps:
                - init:
                    assign:
                      - secret: 1
                - peek:
                    call: peek
                    result: seen
            peek:
              steps:
                - look:
                    return: ${secret}
            """
        ),
        "scope.yaml",
    )
    outcome = run(workflow)
    assert outcome.error is not None and outcome.error.tags == ["KeyError"]


def test_unbounded_recursion_is_a_recursion_error() -> None:
    workflow = load_workflow(
        "main:\n  steps:\n    - again:\n        call: main2\nmain2:\n  steps:\n"
        "    - again2:\n        call: main2\n",
        "loop.yaml",
    )
    outcome = run(workflow)
    assert outcome.error is not None and outcome.error.tags == ["RecursionError"]


# --- stdlib sys/log and sys/sleep; "Make an HTTP request" -------------------------------------------


def test_sys_log_and_sys_sleep() -> None:
    outcome = run(load("sys_calls.yaml"))
    assert outcome.result == "slept"
    assert outcome.logs == [
        ("ERROR", "Log my error message"),
        ("ERROR", "Log my error message"),
        ("DEFAULT", "Log my error message"),
        ("WARNING", {"Message1": "Log my error message"}),
    ]
    assert outcome.sleeps == [10.0]
    sleep_step = next(e for e in outcome.events if e.kind == "finish" and e.step == "nap")
    assert sleep_step.external <= sleep_step.elapsed


def test_http_get_post_and_request() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"items": [1, 2]}, headers={"X-Page": "2"})
        if request.method == "POST":
            assert request.headers["content-type"] == "application/json; charset=utf-8"
            assert request.headers["x-token"] == "t0k"
            return httpx.Response(201, json={"created": json.loads(request.content)})
        return httpx.Response(204)

    outcome = run(load("http_calls.yaml"), "https://api.test", handler=api)
    assert outcome.urls[0] == "https://api.test/items?page=2&q=a+b"
    result = outcome.result
    assert result["got"]["body"] == {"items": [1, 2]} and result["got"]["code"] == 200
    assert result["got"]["headers"]["x-page"] == "2"
    assert result["posted_code"] == 201 and result["posted_body"] == {"created": {"name": "widget"}}
    assert result["deleted_code"] == 204 and outcome.requests[2].method == "DELETE"


# --- Connectors and step events ----------------------------------------------------------------------


def test_connector_errors_propagate_with_their_tags() -> None:
    text = """
    - run_job:
        try:
          call: googleapis.run.v2.projects.locations.jobs.run
          args:
            name: projects/p/locations/l/jobs/j
        except:
          as: e
          steps:
            - tell:
                return: ${e.tags}
    """

    def failing_job(args: dict[str, Any]) -> Any:
        assert args == {"name": "projects/p/locations/l/jobs/j"}
        raise WorkflowError(["OperationError"], "the execution failed")

    name = "googleapis.run.v2.projects.locations.jobs.run"
    workflow = load_workflow(textwrap.dedent(text), "job.yaml", connectors={name})
    assert run(workflow, connectors={name: failing_job}).result == ["OperationError"]


RUN_JOB = "googleapis.run.v2.projects.locations.jobs.run"
RUN_JOB_STEP = """
- run_job:
    call: googleapis.run.v2.projects.locations.jobs.run
    args:
      name: projects/p/locations/l/jobs/j
      connector_params:
"""


def test_connector_params_as_the_connectors_reference_writes_them_load() -> None:
    params = """\
        timeout: 87000
        polling_policy:
          initial_delay: 1
          multiplier: 1.25
          max_delay: 60
        skip_polling: false
        scopes: https://www.googleapis.com/auth/cloud-platform
    """
    load_workflow(RUN_JOB_STEP + params, "job.yaml", connectors={RUN_JOB})


# Connectors reference, "Invoke a connector call"; Google's schema types these fields as literals.
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            "timeout: ${t + 600}",
            "bad.yaml:6: connector_params.timeout must be an integer literal (Google's schema types it as "
            "an integer; an expression given)",
        ),
        ('timeout: "7800"', "bad.yaml:6: connector_params.timeout must be an integer literal"),
        ("timeout: 31536001", "bad.yaml:6: connector_params.timeout must be between 1 and 31536000"),
        ("skip_polling: ${flag}", "bad.yaml:6: connector_params.skip_polling must be a boolean literal"),
        ("wait: 5", "bad.yaml:6: unknown key 'wait' in connector_params"),
        (
            "polling_policy:\n    max_delay: ${d}",
            "bad.yaml:7: connector_params.polling_policy.max_delay must be a number literal",
        ),
    ],
)
def test_connector_params_that_googles_schema_refuses(params: str, expected: str) -> None:
    text = RUN_JOB_STEP + textwrap.indent(params, "        ")
    assert load_error(text, connectors={RUN_JOB}).startswith(expected)


def test_a_connector_cannot_be_called_inside_an_expression() -> None:
    # Expressions page, "Blocking calls": blocking calls are made from call steps only; connectors are
    # called with call and args (connectors reference), never inside ${...}.
    text = """
    - run_job:
        return: '${googleapis.run.v2.projects.locations.jobs.run({"name": "projects/p"})}'
    """
    message = load_error(text, connectors={RUN_JOB})
    assert message.startswith(f"bad.yaml:2: '{RUN_JOB}' cannot be called inside an expression")


def test_step_events_pair_up_and_report_overhead() -> None:
    outcome = run(load("switch_embedded.yaml"))
    kinds = [(e.kind, e.step) for e in outcome.events]
    assert kinds == [
        ("start", "step1"),
        ("finish", "step1"),
        ("start", "step2"),
        ("start", "stepA"),
        ("finish", "stepA"),
        ("start", "stepB"),
        ("finish", "stepB"),
        ("finish", "step2"),
    ]
    finished = {e.step: e for e in outcome.events if e.kind == "finish"}
    # The nested steps' time is the outer step's external time, not its overhead.
    assert finished["step2"].external >= finished["stepA"].elapsed + finished["stepB"].elapsed
    assert all(e.overhead >= 0 for e in finished.values())


# --- Standard-library functions as call steps: arguments by name (stdlib reference pages, quickstart) ---


def test_standard_library_functions_in_call_steps_take_named_arguments() -> None:
    outcome = run(load("stdlib_calls.yaml"), env={"GOOGLE_CLOUD_LOCATION": "us-central1"})
    assert outcome.error is None
    assert outcome.result == {
        "location": "us-central1",  # the quickstart's getLocation step
        "missing": "fallback",
        "first": "us",
        "found": 42,
        "encoded": '["us","central1"]',
        "b64": "WyJ1cyIsImNlbnRyYWwxIl0",  # padding: false drops the trailing "="
        "now": 0.0,
    }


def test_every_standard_library_function_has_its_argument_names() -> None:
    modules = {name for name in make_functions({}, lambda: 0.0) if "." in name}
    assert set(PARAMETERS) == modules
    for names, required in PARAMETERS.values():
        assert len(names) - required <= 1  # positional() relies on at most one optional parameter


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"name": 1}, "sys.get_env: expected a string name, got int"),
        ({"default": "x"}, "sys.get_env needs argument(s) name"),
        ({"name": "A", "fallback": "x"}, "unknown argument(s) fallback for sys.get_env"),
    ],
)
def test_named_arguments_that_do_not_fit_are_a_type_error(args: dict[str, Any], message: str) -> None:
    get_env = make_functions({}, lambda: 0.0)["sys.get_env"]
    with pytest.raises(WorkflowError) as caught:
        get_env(*positional("sys.get_env", args))
    assert caught.value.tags == ["TypeError"] and message in caught.value.message


def test_a_variable_created_in_an_except_block_is_local_to_it() -> None:
    # Google: Catching errors > "Variable scope"; assigning an existing variable updates it.
    text = """
    main:
      params: [read]
      steps:
        - init:
            assign:
              - shared: "before"
        - guarded:
            try:
              steps:
                - fail:
                    raise: "boom"
            except:
              as: e
              steps:
                - note:
                    assign:
                      - shared: ${e}
                      - local_only: 1
        - after:
            switch:
              - condition: ${read == "shared"}
                return: ${shared}
        - gone:
            return: ${local_only}
    """
    workflow = load_workflow(textwrap.dedent(text), "except.yaml")
    assert run(workflow, "shared").result == "boom"
    outcome = run(workflow, "local")
    assert outcome.error is not None and outcome.error.tags == ["KeyError"]


# --- Load-time rejection: every message names the file and the line ---------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            """
            - fan_out:
                parallel:
                  branches: []
            """,
            "bad.yaml:3: 'branches' of parallel step 'fan_out' must be a list of 2 to 10 branches",
        ),
        (
            """
            - first:
                assign:
                  - x: 1
                nxet: second
            """,
            "bad.yaml:4: unknown key 'nxet' in step 'first'",
        ),
        (
            """
            - first:
                assign:
                  - x: 1
                next: nowhere
            """,
            "bad.yaml:4: 'next: nowhere' names no step reachable from here",
        ),
        (
            """
            - first:
                assign:
                  - x: 1
            - second:
                return: ${x +}
            """,
            "bad.yaml:5: invalid expression ${x +}",
        ),
        (
            """
            - map_all:
                call: experimental.executions.map
                args:
                  workflow_id: w
            """,
            "bad.yaml:1: unsupported call target 'experimental.executions.map'",
        ),
        (
            """
            - outside:
                next: break
            """,
            "bad.yaml:2: 'next: break' is only allowed inside a for loop",
        ),
        (
            """
            - loop:
                for:
                  value: v
                  in: [1]
                  range: [1, 2]
                  steps:
                    - s:
                        assign:
                          - x: 1
            """,
            "bad.yaml:3: the for loop of step 'loop' needs exactly one of 'in' and 'range'",
        ),
        (
            """
            - a:
                assign:
                  - x: 1
            - b:
                steps:
                  - a:
                      assign:
                        - y: 2
            """,
            "bad.yaml:6: step name 'a' is already used on line 1",
        ),
        (
            """
            - flaky:
                try:
                  call: http.get
                  args:
                    url: https://example.com
                retry: ${http.retry_forever}
            """,
            "bad.yaml:6: unsupported retry policy",
        ),
        (
            """
            - both:
                assign:
                  - x: 1
                return: ${x}
            """,
            "bad.yaml:1: step 'both' has more than one action: assign, return",
        ),
        (
            """
            - get:
                call: http.get
                args:
                  uri: https://example.com
            """,
            "bad.yaml:4: unknown argument 'uri' for http.get",
        ),
        (
            """
            - greet:
                return: ${upper("x")}
            """,
            "bad.yaml:2: unknown function 'upper' in an expression",
        ),
        (
            """
            - split:
                call: text.split
                args: ["a,b", ","]
            """,
            "bad.yaml:3: args of 'text.split' must be a map of named arguments",
        ),
        (
            """
            - nap:
                call: sys.sleep
                args: [10]
            """,
            "bad.yaml:3: args of 'sys.sleep' must be a map of named arguments",
        ),
        (
            """
            - get:
                call: http.get
                args: ${request}
            """,
            "bad.yaml:3: args of 'http.get' must be a map of named arguments",
        ),
        (
            """
            - split:
                call: text.split
                args:
                  source: "a,b"
                  sep: ","
            """,
            "bad.yaml:5: unknown argument(s) sep for text.split (it takes: source, separator)",
        ),
        (
            """
            - env:
                call: sys.get_env
                args:
                  default: "x"
            """,
            "bad.yaml:4: sys.get_env needs argument(s) name",
        ),
        (
            """
            - size:
                call: len
                args:
                  value: [1]
            """,
            "bad.yaml:2: 'len' is an expression helper",
        ),
        (
            """
            - loop:
                for:
                  value: v
                  range: ["${first}", "${last}"]
                  steps:
                    - s:
                        assign:
                          - x: ${v}
            """,
            "bad.yaml:4: 'range' of step 'loop' puts expressions inside a list",
        ),
        (
            """
            - loop:
                for:
                  value: v
                  range: ${bounds}
                  steps:
                    - s:
                        assign:
                          - x: ${v}
            """,
            "bad.yaml:4: 'range' of step 'loop' is [start, end] with two numbers, or one expression",
        ),
        (
            """
            - loop:
                for:
                  value: v
                  range: ["a", 2]
                  steps:
                    - s:
                        assign:
                          - x: ${v}
            """,
            "bad.yaml:4: 'range' bounds of step 'loop' must be numbers",
        ),
        (
            """
            - fetch:
                assign:
                  - page: ${http.get("https://example.com")}
            """,
            "bad.yaml:3: 'http.get' cannot be called inside an expression",
        ),
        (
            """
            - note:
                return: ${sys.log("hello")}
            """,
            "bad.yaml:2: 'sys.log' cannot be called inside an expression",
        ),
        (
            """
            - twice:
                assign:
                  - x: 1
                next: end
                next: twice
            """,
            "bad.yaml:1: step 'twice' repeats a key",
        ),
        (
            """
            main:
              params: [a, b]
              steps:
                - s:
                    return: 1
            """,
            "bad.yaml:2: main takes at most one parameter",
        ),
    ],
)
def test_load_time_rejections_name_the_line(text: str, expected: str) -> None:
    assert load_error(text).startswith(expected)


def test_break_and_continue_cannot_jump_out_of_a_loop_to_an_outer_step() -> None:
    message = load_error(
        """
        - loop:
            for:
              value: v
              in: [1]
              steps:
                - escape:
                    next: after
        - after:
            return: 1
        """
    )
    assert message.startswith("bad.yaml:7: 'next: after' names no step reachable from here")
