"""Conformance tests of the local Workflows engine's ``parallel`` steps.

Each workflow is built from Google's "Parallel steps" reference and its samples in
GoogleCloudPlatform/workflows-samples (``src/parallel_*.workflows.yaml``; the sample is named above the
test), with their calls replaced by connectors the test injects. Concurrency is proven without timing:
an injected connector waits on a ``threading.Barrier`` that only opens when the expected number of
branches are inside it at once (a sequential engine would break the barrier), and counts how many are
inside at most. HTTP goes to an ``httpx.MockTransport``; sleeps and logs are recorded, never real.
"""

from __future__ import annotations

import textwrap
import threading
import time
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
from orchestration.engine.parallel import UNHANDLED_BRANCH
from orchestration.engine.stdlib import FUNCTIONS, make_functions

Connector = Callable[[dict[str, Any]], Any]
WAIT = 10.0  # seconds a barrier waits before it breaks: only ever reached when a test fails


@dataclass
class Outcome:
    result: Any = None
    error: WorkflowError | None = None
    events: list[StepEvent] = field(default_factory=list)


def workflow(text: str, *, connectors: tuple[str, ...] = (), functions: tuple[str, ...] = ()) -> Workflow:
    return load_workflow(
        textwrap.dedent(text).lstrip("\n"),
        "parallel.yaml",
        connectors=connectors,
        functions=[*FUNCTIONS, *functions],
    )


def execute(
    loaded: Workflow,
    argument: Any = None,
    *,
    connectors: dict[str, Connector] | None = None,
    functions: dict[str, Callable[..., Any]] | None = None,
    http: httpx.MockTransport | None = None,
) -> Outcome:
    """Run ``loaded``; an uncaught ``WorkflowError`` is recorded, not raised."""
    outcome = Outcome()
    executor = Executor(
        loaded,
        connectors or {},
        {**make_functions({}, lambda: 0.0), **(functions or {})},
        sleep=lambda _seconds: None,
        log_sink=lambda _severity, _payload: None,
        on_step=lambda _name, event: outcome.events.append(event),
        http=httpx.Client(transport=http or httpx.MockTransport(lambda _r: httpx.Response(200, json={}))),
    )
    try:
        outcome.result = executor.run(argument)
    except WorkflowError as error:
        outcome.error = error
    return outcome


def load_error(text: str) -> str:
    with pytest.raises(WorkflowSyntaxError) as caught:
        workflow(text, connectors=("test.work",))
    return str(caught.value)


class Meeting:
    """A connector that returns its ``value`` once ``parties`` calls are inside it at the same time.

    It counts the most calls ever inside at once (``most``) and the threads that made them
    (``threads``); ``calls`` records every ``value`` it was given.
    """

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=WAIT)
        self.lock = threading.Lock()
        self.inside = 0
        self.most = 0
        self.calls: list[Any] = []
        self.threads: set[int] = set()

    def __call__(self, args: dict[str, Any]) -> Any:
        with self.lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
            self.calls.append(args.get("value"))
            self.threads.add(threading.get_ident())
        try:
            self.barrier.wait()
        finally:
            with self.lock:
                self.inside -= 1
        return args.get("value")


# --- Parallel branches (sample parallel_branch): branches run at the same time ----------------------

BRANCHES = """
main:
  params: [args]
  steps:
    - init:
        assign:
          - user: {}
          - notification: {}
    - parallelStep:
        parallel:
          shared: [user, notification]
          branches:
            - getUser:
                steps:
                  - getUserCall:
                      call: test.work
                      args:
                        value: ${"user " + args.userId}
                      result: user
            - getNotification:
                steps:
                  - getNotificationCall:
                      call: test.work
                      args:
                        value: ${"notification " + args.notificationId}
                      result: notification
    - done:
        return: ${[user, notification]}
"""


def test_branches_run_at_the_same_time_and_write_their_shared_results() -> None:
    meeting = Meeting(2)  # opens only when both branches are inside the call together
    outcome = execute(
        workflow(BRANCHES, connectors=("test.work",)),
        {"userId": "u1", "notificationId": "n1"},
        connectors={"test.work": meeting},
    )
    assert outcome.error is None
    assert outcome.result == ["user u1", "notification n1"]
    assert meeting.most == 2


def test_branch_steps_report_paired_events_from_their_threads() -> None:
    outcome = execute(
        workflow(BRANCHES, connectors=("test.work",)),
        {"userId": "u1", "notificationId": "n1"},
        connectors={"test.work": Meeting(2)},
    )
    seen = [(event.kind, event.step) for event in outcome.events]
    for step in ("parallelStep", "getUser", "getUserCall", "getNotification", "getNotificationCall"):
        assert seen.count(("start", step)) == seen.count(("finish", step)) == 1
        assert seen.index(("start", step)) < seen.index(("finish", step))
    # The parallel step ends after its branches; waiting for them is not the engine's own work.
    assert seen.index(("finish", "getUser")) < seen.index(("finish", "parallelStep"))
    parallel_finish = next(e for e in outcome.events if e.kind == "finish" and e.step == "parallelStep")
    assert parallel_finish.overhead < parallel_finish.elapsed


# --- Shared variables (samples parallel_iteration, parallel_aggregate): each assignment is atomic ------


def test_every_iteration_adds_to_a_shared_total_without_losing_an_update() -> None:
    # ``test.slow`` lets the other threads run between reading ``total`` and storing the sum: without
    # the assignment being atomic, iterations would overwrite each other's additions.
    def slow(value: Any) -> Any:
        time.sleep(0.002)
        return value

    loaded = workflow(
        """
        main:
          params: [args]
          steps:
            - init:
                assign:
                  - total: 0
            - countComments:
                parallel:
                  shared: [total]
                  for:
                    value: postId
                    in: ${args.posts}
                    steps:
                      - getPostCommentCount:
                          call: test.work
                          args:
                            value: ${postId * 10}
                          result: numComments
                      - add:
                          assign:
                            - total: ${total + test.slow(numComments)}
            - done:
                return: ${total}
        """,
        connectors=("test.work",),
        functions=("test.slow",),
    )
    posts = list(range(1, 21))
    outcome = execute(
        loaded,
        {"posts": posts},
        connectors={"test.work": Meeting(20)},
        functions={"test.slow": slow},
    )
    assert outcome.error is None
    assert outcome.result == 10 * sum(posts)


SHARED_SCOPE = """
- assignStep:
    assign:
      - input: ["apples", "oranges"]
      - my_result: {}
- parallelStep:
    parallel:
      shared: [my_result]
      branches:
        - getStock:
            steps:
              - callGetStock:
                  call: test.work
                  args:
                    value: ${"stock of " + input[0]}
                  result: local_result
              - assignResult1:
                  assign:
                    - my_result["getStock"]: ${local_result}
                    - temp: 1
                    - temp2: "foo"
        - orderStock:
            steps:
              - callOrderStock:
                  call: test.work
                  args:
                    value: ${"order of " + input[1]}
                  result: local_result
              - assignResult2:
                  assign:
                    - my_result["orderStock"]: ${local_result}
                    - temp: 2
- after:
    return: ${WHAT}
"""


@pytest.mark.parametrize(
    ("what", "expected"),
    [
        ("my_result", {"getStock": "stock of apples", "orderStock": "order of oranges"}),
        ("input", ["apples", "oranges"]),
    ],
)
def test_shared_variables_reach_the_enclosing_scope(what: str, expected: Any) -> None:
    # Sample parallel_shared_variables: both branches write keys of one shared map at the same time.
    loaded = workflow(SHARED_SCOPE.replace("WHAT", what), connectors=("test.work",))
    outcome = execute(loaded, connectors={"test.work": Meeting(2)})
    assert outcome.error is None
    assert outcome.result == expected


@pytest.mark.parametrize("local", ["temp", "temp2", "local_result"])
def test_what_a_branch_assigns_without_sharing_is_gone_after_the_step(local: str) -> None:
    loaded = workflow(SHARED_SCOPE.replace("WHAT", local), connectors=("test.work",))
    outcome = execute(loaded, connectors={"test.work": Meeting(2)})
    assert outcome.error is not None and outcome.error.tags == ["KeyError"]
    assert local in outcome.error.message


def test_each_iteration_has_variables_of_its_own() -> None:
    # All three set ``mine`` before any of them reads it back (they meet in between): one variable for
    # all would hold the last one's value.
    loaded = workflow(
        """
        - init:
            assign:
              - results: {}
        - loop:
            parallel:
              shared: [results]
              for:
                value: v
                in: ["a", "b", "c"]
                steps:
                  - set:
                      assign:
                        - mine: ${[v]}
                  - meet:
                      call: test.work
                      args:
                        value: ${v}
                  - keep:
                      assign:
                        - results[v]: ${mine}
        - done:
            return: ${results}
        """,
        connectors=("test.work",),
    )
    outcome = execute(loaded, connectors={"test.work": Meeting(3)})
    assert outcome.result == {"a": ["a"], "b": ["b"], "c": ["c"]}


# --- Concurrency limits: at most concurrency_limit at a time, the rest queued -------------------------


@pytest.mark.parametrize(("limit", "expected"), [("2", 2), ("${n}", 3), ("50", 20)])
def test_concurrency_limit_is_reached_and_never_exceeded(limit: str, expected: int) -> None:
    # The barrier opens for ``expected`` calls at a time, so the limit must be reached; three rounds of
    # them, so the queued iterations must start as earlier ones end. 50 is beyond the 20 that run at once.
    loaded = workflow(
        f"""
        main:
          params: [n]
          steps:
            - init:
                assign:
                  - done: 0
            - loop:
                parallel:
                  shared: [done]
                  concurrency_limit: {limit}
                  for:
                    value: i
                    range: ${{[1, 3 * {expected}]}}
                    steps:
                      - work:
                          call: test.work
                          args:
                            value: ${{i}}
                      - count:
                          assign:
                            - done: ${{done + 1}}
            - finish:
                return: ${{done}}
        """,
        connectors=("test.work",),
    )
    meeting = Meeting(expected)
    outcome = execute(loaded, 3, connectors={"test.work": meeting})
    assert outcome.error is None
    assert outcome.result == 3 * expected
    assert meeting.most == expected
    assert len(meeting.threads) == expected  # never more at once, even for an instant
    assert sorted(meeting.calls) == list(range(1, 3 * expected + 1))


@pytest.mark.parametrize(("limit", "tag"), [(0, "ValueError"), ("four", "TypeError"), (2.5, "TypeError")])
def test_a_concurrency_limit_expression_must_give_a_positive_integer(limit: Any, tag: str) -> None:
    loaded = workflow(
        """
        main:
          params: [n]
          steps:
            - loop:
                parallel:
                  concurrency_limit: ${n}
                  for:
                    value: i
                    in: [1, 2]
                    steps:
                      - work:
                          call: test.work
        """,
        connectors=("test.work",),
    )
    outcome = execute(loaded, limit, connectors={"test.work": lambda _args: None})
    assert outcome.error is not None and outcome.error.tags == [tag]


# --- Exception policy: continueAll, the default and only policy; then UnhandledBranchError ------------


@pytest.mark.parametrize("policy", ["", "exception_policy: continueAll"])
def test_a_failed_iteration_does_not_stop_the_others_queued_ones_included(policy: str) -> None:
    # One at a time, and the first one fails: the queued ones still run ("all other branches will attempt
    # to run"), then the step raises.
    loaded = workflow(
        f"""
        - loop:
            parallel:
              {policy}
              concurrency_limit: 1
              for:
                value: v
                in: [0, 1, 2, 3, 4]
                steps:
                  - check:
                      switch:
                        - condition: ${{v == 0}}
                          raise: "first one fails"
                  - work:
                      call: test.work
                      args:
                        value: ${{v}}
        """,
        connectors=("test.work",),
    )
    meeting = Meeting(1)
    outcome = execute(loaded, connectors={"test.work": meeting})
    assert meeting.calls == [1, 2, 3, 4]
    assert outcome.error is not None
    assert outcome.error.as_value() == {
        "message": UNHANDLED_BRANCH,
        "tags": ["UnhandledBranchError"],
        "branches": [
            {"id": "0", "error": {"context": "Error: first one fails", "payload": "first one fails"}}
        ],
        "truncated": False,
    }


def test_unhandled_branch_error_lists_each_failed_iteration() -> None:
    # Sample parallel_error_handling, as written.
    outcome = execute(
        workflow(
            """
            - catchErrors:
                try:
                  steps:
                    - failOdd:
                        parallel:
                          for:
                            value: num
                            range: [0, 5]
                            steps:
                              - checkEven:
                                  switch:
                                    - condition: ${num % 2 != 0}
                                      raise: "how odd!"
                except:
                  as: e
                  steps:
                    - log:
                        call: sys.log
                        args:
                          data: ${e}
                    - returnError:
                        return: ${e}
            """
        )
    )
    error = outcome.result
    assert error["tags"] == ["UnhandledBranchError"]
    assert error["message"] == UNHANDLED_BRANCH
    assert [branch["id"] for branch in error["branches"]] == ["1", "3", "5"]
    assert {branch["error"]["payload"] for branch in error["branches"]} == {"how odd!"}
    assert error["truncated"] is False


def test_at_most_a_hundred_branch_errors_are_listed() -> None:
    outcome = execute(
        workflow(
            """
            - loop:
                parallel:
                  for:
                    value: v
                    range: [1, 101]
                    steps:
                      - fail:
                          raise: ${string(v)}
            """
        )
    )
    assert outcome.error is not None
    assert len(outcome.error.extra["branches"]) == 100
    assert outcome.error.extra["truncated"] is True


def test_unhandled_branch_error_carries_each_branch_s_own_error() -> None:
    outcome = execute(
        workflow(
            """
            - init:
                assign:
                  - finished: []
            - fanOut:
                parallel:
                  exception_policy: continueAll
                  shared: [finished]
                  branches:
                    - raisesMap:
                        steps:
                          - fail:
                              raise:
                                code: 55
                                tags: ["MyError"]
                                message: custom
                    - missesKey:
                        steps:
                          - read:
                              assign:
                                - x: ${finished.nowhere}
                    - succeeds:
                        steps:
                          - note:
                              assign:
                                - finished: ${list.concat(finished, "succeeds")}
            """
        )
    )
    assert outcome.error is not None and outcome.error.tags == ["UnhandledBranchError"]
    branches = outcome.error.extra["branches"]
    assert [branch["id"] for branch in branches] == ["raisesMap", "missesKey"]
    assert branches[0]["error"]["payload"] == {"code": 55, "tags": ["MyError"], "message": "custom"}
    assert branches[1]["error"]["payload"]["tags"] == ["TypeError"]  # a list has no attribute


def test_an_error_caught_inside_a_branch_does_not_escape_it() -> None:
    # Sample parallel_operations: the items call fails, the branch's except recovers with an empty list.
    def http(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/items":
            return httpx.Response(500, json={"error": "down"})
        return httpx.Response(200, json={"name": "Ada"})

    outcome = execute(
        workflow(
            """
            main:
              params: [input]
              steps:
                - init:
                    assign:
                      - userProfile: {}
                      - recentItems: ["stale"]
                - enrichUserData:
                    parallel:
                      shared: [userProfile, recentItems]
                      branches:
                        - getUserProfileBranch:
                            steps:
                              - getUserProfile:
                                  call: http.get
                                  args:
                                    url: '${"https://example.com/users/" + input.userId}'
                                  result: userProfile
                        - getRecentItemsBranch:
                            steps:
                              - getRecentItems:
                                  try:
                                    call: http.get
                                    args:
                                      url: '${"https://example.com/items?userId=" + input.userId}'
                                    result: recentItems
                                  except:
                                    as: e
                                    steps:
                                      - ignoreError:
                                          assign:
                                            - recentItems: []
                - done:
                    return: ${[userProfile.body, recentItems]}
            """
        ),
        {"userId": "7"},
        http=httpx.MockTransport(http),
    )
    assert outcome.error is None
    assert outcome.result == [{"name": "Ada"}, []]


# --- Parallel iteration over a list and a range expression (samples parallel_for_in, _for_range) -------

TRANSLATE = """
main:
  steps:
    - init:
        assign:
          - texts_to_translate:
              - text: "hello world!"
                target: "fr"
              - text: "hola"
                target: "en"
              - text: "ciao"
                target: "de"
          - translated: ["", "", ""]
    - parallel_translate:
        parallel:
          shared: [translated]
          for:
            LOOP
            steps:
              - translate:
                  call: test.work
                  args:
                    value: ${ARG.text + " -> " + ARG.target}
                  result: r
              - set_result:
                  assign:
                    - translated[i]: ${r}
    - return:
        return: ${translated}
"""


@pytest.mark.parametrize(
    ("loop", "arg"),
    [
        ("in: ${texts_to_translate}\n            index: i\n            value: arg", "arg"),
        ("range: ${[0, len(texts_to_translate) - 1]}\n            value: i", "texts_to_translate[i]"),
    ],
)
def test_parallel_for_over_a_list_and_over_a_range_expression(loop: str, arg: str) -> None:
    loaded = workflow(TRANSLATE.replace("LOOP", loop).replace("ARG", arg), connectors=("test.work",))
    outcome = execute(loaded, connectors={"test.work": Meeting(3)})
    assert outcome.error is None
    assert outcome.result == ["hello world! -> fr", "hola -> en", "ciao -> de"]


def test_parallel_for_over_a_map_is_a_type_error() -> None:
    outcome = execute(
        workflow(
            """
            - loop:
                parallel:
                  for:
                    value: k
                    in: {"a": 1}
                    steps:
                      - noop:
                          assign:
                            - x: ${k}
            """
        )
    )
    assert outcome.error is not None and outcome.error.tags == ["TypeError"]


# --- Subworkflows and the call stack inside branches -------------------------------------------------

DEPTH = """
main:
  params: [where]
  steps:
    - init:
        assign:
          - deepest: {}
    - route:
        switch:
          - condition: ${where == "branch"}
            next: fan
    - direct:
        call: dive
        args:
          n: 1
        result: direct
    - keep:
        assign:
          - deepest.direct: ${direct}
        next: done
    - fan:
        parallel:
          shared: [deepest]
          branches:
            - one:
                steps:
                  - go:
                      call: dive
                      args:
                        n: 1
                      result: one
                  - keep_one:
                      assign:
                        - deepest.one: ${one}
            - two:
                steps:
                  - go2:
                      assign:
                        - deepest.two: ${dive(1)}
    - done:
        return: ${deepest}

# Calls itself until the call stack is full; the deepest call that could not go deeper returns its n.
dive:
  params: [n]
  steps:
    - deeper:
        try:
          call: dive
          args:
            n: ${n + 1}
          result: got
        except:
          as: e
          steps:
            - full:
                return: ${n}
    - up:
        return: ${got}
"""


def test_a_branch_keeps_the_call_depth_of_the_step_that_started_it() -> None:
    loaded = workflow(DEPTH)
    direct = execute(loaded, "direct").result["direct"]
    assert direct == 19  # main is call 1 of 20, so dive(19) is the last that fits
    assert execute(loaded, "branch").result == {"one": direct, "two": direct}


NESTED = """
main:
  params: [levels]
  steps:
    - init:
        assign:
          - x: 0
    - attempt:
        try:
          steps:
            - outer:
                parallel:
                  shared: [x]
                  branches:
                    - a:
                        steps:
                          - inner:
                              parallel:
                                shared: [x]
                                branches:
                                  - inner_a:
                                      steps:
                                        - more:
                                            call: deeper
                                            args:
                                              go: ${levels > 2}
                                  - inner_b:
                                      steps:
                                        - add:
                                            assign:
                                              - x: ${x + 1}
                    - b:
                        steps:
                          - add_b:
                              assign:
                                - x: ${x + 1}
        except:
          as: e
          steps:
            - failed:
                return: ${e.branches[0].error.payload.branches[0].error.payload.tags}
    - done:
        return: ${x}

deeper:
  params: [go]
  steps:
    - check:
        switch:
          - condition: ${not go}
            return: null
    - third:
        parallel:
          branches:
            - p:
                steps:
                  - nothing:
                      assign:
                        - z: 1
            - q:
                steps:
                  - nothing_q:
                      assign:
                        - y: 1
"""


def test_parallel_steps_nest_two_deep_and_no_deeper() -> None:
    # A third level, here reached through a subworkflow call, raises ParallelNestingError in its branch.
    loaded = workflow(NESTED)
    assert execute(loaded, 2).result == 2  # x is shared through both levels
    assert execute(loaded, 3).result == ["ParallelNestingError"]


# --- Load-time rejections ---------------------------------------------------------------------------


def branches_of(count: int) -> str:
    return "".join(
        f"""
              - b{n}:
                  steps:
                    - s{n}:
                        call: test.work"""
        for n in range(count)
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            """
            - fan:
                parallel:
                  shared: []
            """,
            "parallel.yaml:3: parallel step 'fan' needs exactly one of 'branches' and 'for'",
        ),
        (
            """
            - fan:
                parallel:
                  for:
                    value: v
                    in: [1]
                    steps:
                      - s:
                          call: test.work
                  branches: []
            """,
            "parallel.yaml:3: parallel step 'fan' needs exactly one of 'branches' and 'for'",
        ),
        (
            "- fan:\n    parallel:\n      branches:" + branches_of(1),
            "parallel.yaml:4: 'branches' of parallel step 'fan' must be a list of 2 to 10 branches "
            "(Google's limits), got 1",
        ),
        (
            "- fan:\n    parallel:\n      branches:" + branches_of(11),
            "parallel.yaml:4: 'branches' of parallel step 'fan' must be a list of 2 to 10 branches "
            "(Google's limits), got 11",
        ),
        (
            "- fan:\n    parallel:\n      concurrency_limit: 0\n      branches:" + branches_of(2),
            "parallel.yaml:3: concurrency_limit of parallel step 'fan' must be a positive integer",
        ),
        (
            "- fan:\n    parallel:\n      concurrency_limit: two\n      branches:" + branches_of(2),
            "parallel.yaml:3: concurrency_limit of parallel step 'fan' must be a positive integer",
        ),
        (
            "- fan:\n    parallel:\n      exception_policy: unhandled\n      branches:" + branches_of(2),
            "parallel.yaml:3: exception_policy of parallel step 'fan' must be continueAll",
        ),
        (
            "- fan:\n    parallel:\n      retries: 1\n      branches:" + branches_of(2),
            "parallel.yaml:3: unknown key 'retries' in parallel step 'fan'",
        ),
        (
            "- fan:\n    branches:" + branches_of(2),
            "parallel.yaml:2: 'branches' belongs inside a 'parallel' step (step 'fan')",
        ),
        (
            """
            - fan:
                parallel:
                  branches:
                    - a:
                        next: b
                        steps:
                          - s:
                              call: test.work
                    - b:
                        steps:
                          - t:
                              call: test.work
            """,
            "parallel.yaml:5: branch 'a' of parallel step 'fan' must be a map with only 'steps'",
        ),
        (
            "- b0:\n    call: test.work\n- fan:\n    parallel:\n      branches:" + branches_of(2),
            "parallel.yaml:6: branch name 'b0' is already used on line 1",
        ),
        (
            """
            - init:
                assign:
                  - total: 0
            - fan:
                parallel:
                  shared: [total, total]
                  for:
                    value: v
                    in: [1]
                    steps:
                      - s:
                          call: test.work
            """,
            "parallel.yaml:6: 'shared' of parallel step 'fan' lists 'total' twice",
        ),
        (
            """
            - fan:
                parallel:
                  shared: [total]
                  for:
                    value: v
                    in: [1]
                    steps:
                      - s:
                          call: test.work
            - init:
                assign:
                  - total: 0
            """,
            "parallel.yaml:3: shared variable 'total' of parallel step 'fan' is not assigned above it",
        ),
        (
            # Sample parallel_shared_variables: "input: 5 # deployment error, defined in the parent scope
            # but not marked shared".
            """
            - assignStep:
                assign:
                  - input: ["apples", "oranges"]
                  - my_result: {}
            - parallelStep:
                parallel:
                  shared: [my_result]
                  for:
                    value: v
                    in: ${input}
                    steps:
                      - assignResult:
                          assign:
                            - temp: 1
                            - input: 5
            """,
            "parallel.yaml:15: step 'assignResult' assigns 'input' inside parallel step 'parallelStep', but "
            "'input' belongs to the enclosing scope and is not in the step's 'shared' list",
        ),
        (
            """
            main:
              params: [input]
              steps:
                - fan:
                    parallel:
                      branches:
                        - first:
                            steps:
                              - s:
                                  call: test.work
                        - keep:
                            steps:
                              - get:
                                  call: test.work
                                  result: input
            """,
            "parallel.yaml:15: step 'get' assigns 'input' inside parallel step 'fan'",
        ),
        (
            # The inner step shares ``x`` through its branch, but the outer step does not share it.
            """
            - init:
                assign:
                  - x: 0
            - outer:
                parallel:
                  for:
                    value: v
                    in: [1, 2]
                    steps:
                      - inner:
                          parallel:
                            shared: [x]
                            for:
                              value: w
                              in: [1, 2]
                              steps:
                                - add:
                                    assign:
                                      - x: ${x + w}
            """,
            "parallel.yaml:12: step 'inner' assigns 'x' inside parallel step 'outer'",
        ),
        (
            """
            - fan:
                parallel:
                  branches:
                    - a:
                        steps:
                          - give:
                              return: 1
                    - b:
                        steps:
                          - s:
                              call: test.work
            """,
            "parallel.yaml:6: step 'give' returns inside parallel step 'fan'",
        ),
        (
            """
            - fan:
                parallel:
                  for:
                    value: v
                    in: [1, 2]
                    steps:
                      - check:
                          switch:
                            - condition: ${v == 2}
                              return: ${v}
            """,
            "parallel.yaml:9: step 'check' returns inside parallel step 'fan'",
        ),
        (
            """
            - fan:
                parallel:
                  for:
                    value: v
                    in: [1, 2]
                    steps:
                      - stop:
                          next: end
            """,
            "parallel.yaml:8: 'next: end' inside parallel step 'fan' is not supported",
        ),
        (
            """
            - fan:
                parallel:
                  for:
                    value: v
                    in: [1, 2]
                    steps:
                      - check:
                          switch:
                            - condition: ${v == 2}
                              next: break
            """,
            "parallel.yaml:10: 'next: break' cannot act on the iterations of parallel step 'fan'",
        ),
        (
            """
            - fan:
                parallel:
                  for:
                    value: v
                    in: [1, 2]
                    steps:
                      - skip:
                          next: continue
            """,
            "parallel.yaml:8: 'next: continue' cannot act on the iterations of parallel step 'fan'",
        ),
        (
            """
            - fan:
                parallel:
                  branches:
                    - a:
                        steps:
                          - leave:
                              next: after
                    - b:
                        steps:
                          - s:
                              call: test.work
            - after:
                return: 1
            """,
            "parallel.yaml:7: 'next: after' names no step reachable from here",
        ),
        (
            """
            - fan:
                parallel:
                  branches:
                    - a:
                        steps:
                          - s:
                              call: nowhere.to.go
                    - b:
                        steps:
                          - t:
                              call: test.work
            """,
            "parallel.yaml:6: unsupported call target 'nowhere.to.go' in step 's'",
        ),
    ],
)
def test_malformed_parallel_steps_are_refused_with_the_line(text: str, expected: str) -> None:
    assert load_error(text).startswith(expected)


def test_what_the_rules_allow_loads() -> None:
    # A loop's own variable above the step is not an enclosing variable; ``break`` of a sequential loop
    # inside an iteration and a branch's own ``next`` are fine; so is a subworkflow that returns.
    loaded = workflow(
        """
        main:
          steps:
            - earlier:
                for:
                  value: v
                  in: [1]
                  steps:
                    - tmp_made:
                        assign:
                          - tmp: ${v}
            - fan:
                parallel:
                  for:
                    value: v
                    in: [1, 2]
                    steps:
                      - own:
                          assign:
                            - tmp: ${v}
                      - inner:
                          for:
                            value: w
                            in: [1, 2, 3]
                            steps:
                              - stop:
                                  switch:
                                    - condition: ${w == 2}
                                      next: break
                      - skip:
                          next: last
                      - never:
                          raise: "skipped"
                      - last:
                          assign:
                            - r: ${give(tmp)}
            - done:
                return: "ok"
        give:
          params: [x]
          steps:
            - back:
                return: ${x}
        """
    )
    assert execute(loaded).result == "ok"
