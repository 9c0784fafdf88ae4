"""The board: the signed-in user's tasks, adding one, marking one done; only the owner sees or edits one."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from . import db
from .auth import login_required
from .models import TITLE_MAX, Task

bp = Blueprint("board", __name__)


@bp.get("/")
@login_required
def index() -> Any:
    tasks = db.session().scalars(
        select(Task).where(Task.owner_id == g.user.id).order_by(Task.done, Task.created_at, Task.id)
    )
    return render_template("board.html", tasks=list(tasks), title_max=TITLE_MAX)


@bp.post("/tasks")
@login_required
def add_task() -> Any:
    title = request.form.get("title", "").strip()
    if not title:
        flash("A task needs a title.", "error")
    elif len(title) > TITLE_MAX:
        flash(f"Titles are at most {TITLE_MAX} characters.", "error")
    else:
        s = db.session()
        s.add(Task(owner_id=g.user.id, title=title))
        s.commit()
    return redirect(url_for("board.index"))


@bp.post("/tasks/<int:task_id>/done")
@login_required
def mark_done(task_id: int) -> Any:
    s = db.session()
    task = s.get(Task, task_id)
    # Someone else's task is answered like a missing one: ids must not reveal what others have.
    if task is None or task.owner_id != g.user.id:
        abort(404)
    task.done = True
    s.commit()
    return redirect(url_for("board.index"))
