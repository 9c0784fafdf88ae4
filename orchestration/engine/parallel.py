"""Running a ``parallel`` step: its branches or iterations on threads, and what it raises.

Google's "Parallel steps" reference: branches and iterations run concurrently and in any order; at most
``concurrency_limit`` of them at a time (a positive integer, literal or expression; it applies to this
one step and does not cascade), the others queued; the step waits until all of them have ended. The
only exception policy, and the default, is ``continueAll``: an unhandled exception ends its own branch
and "all other branches will attempt to run", queued ones included. When they have all ended, the step
raises ``UnhandledBranchError`` listing the failed branches, each as ``{"id", "error"}``.

The limits come from Google's quotas page as restated by independent emulators (the table itself
was out of reach here): at most 20 branches or iterations run at once (the default limit, and the
ceiling of a larger one; counted per step here), parallel steps nest at most 2 deep (deeper raises
``ParallelNestingError``, also through subworkflow calls), and at most 100 unhandled errors are
reported (``truncated`` says when more were left out). The error map's shape (``message``, ``tags``,
``branches``, ``truncated``; an entry's ``error`` holding ``context`` and ``payload``) follows what the
service returns as the ``workflows_emulator`` project records it; an entry's ``id`` is the branch name,
or the iteration's index (its ``context`` is this engine's text of the error, not Google's).

Branches run on real threads because their calls block for minutes (a Cloud Run job through its
connector); the executor gives each thread its own call depth, inherited from the step that started it.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from orchestration.engine.errors import WorkflowError, type_error, value_error
from orchestration.engine.values import is_int, type_name

MIN_BRANCHES = 2  # Google's JSON schema: branches has minItems 2 and maxItems 10
MAX_BRANCHES = 10
MAX_CONCURRENCY = 20  # branches and iterations running at once, and the default concurrency_limit
MAX_NESTING = 2  # a parallel step inside a branch of another, but no deeper
MAX_REPORTED = 100  # unhandled branch errors an UnhandledBranchError lists
UNHANDLED_BRANCH = (
    "UnhandledBranchError: One or more branches or iterations encountered an unhandled runtime error"
)


@dataclass(frozen=True)
class Task:
    """One branch or iteration: its ``id`` in an ``UnhandledBranchError``, and the work to do."""

    id: str
    run: Callable[[], None]


def concurrency(limit: Any) -> int:
    """How many tasks may run at once, from the step's evaluated ``concurrency_limit`` (None: unset)."""
    if limit is None:
        return MAX_CONCURRENCY
    if not is_int(limit):
        raise type_error(f"concurrency_limit must be an integer, got {type_name(limit)}")
    if limit < 1:
        raise value_error(f"concurrency_limit must be a positive integer, got {limit}")
    return min(int(limit), MAX_CONCURRENCY)


def nesting_error(step: str) -> WorkflowError:
    return WorkflowError(
        ["ParallelNestingError"],
        f"parallel step '{step}' is nested more than {MAX_NESTING} parallel steps deep",
    )


def run_tasks(tasks: list[Task], limit: int, step: str) -> None:
    """Run every task, at most ``limit`` at a time, until all have ended (``continueAll``).

    Raises ``UnhandledBranchError`` for the tasks that ended in a ``WorkflowError``; an exception of
    any other kind is an engine fault, re-raised as is once the others have ended.
    """
    failures: list[tuple[str, WorkflowError]] = []
    fault: Exception | None = None
    pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix=f"parallel-{step}")
    try:
        futures: list[tuple[str, Future[None]]] = [(task.id, pool.submit(task.run)) for task in tasks]
        for task_id, future in futures:
            try:
                future.result()
            except WorkflowError as error:
                failures.append((task_id, error))
            except Exception as exc:
                fault = fault or exc
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)  # interrupted: start nothing more
        raise
    pool.shutdown()
    if fault is not None:
        raise fault
    if failures:
        raise unhandled_branch_error(failures)


def unhandled_branch_error(failures: list[tuple[str, WorkflowError]]) -> WorkflowError:
    """The error a parallel step raises after its branches ended, some of them in an unhandled error."""
    return WorkflowError(
        ["UnhandledBranchError"],
        UNHANDLED_BRANCH,
        branches=[
            {"id": task_id, "error": {"context": str(error), "payload": error.as_value()}}
            for task_id, error in failures[:MAX_REPORTED]
        ],
        truncated=len(failures) > MAX_REPORTED,
    )
