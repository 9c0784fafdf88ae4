"""Staff sign-in: the password checked against its werkzeug hash (scrypt), the user kept in the
signed session cookie."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from sqlalchemy import select
from werkzeug.security import check_password_hash

from .. import db
from ..models import StaffUser

bp = Blueprint("auth", __name__)


def load_staff() -> None:
    staff_id = session.get("staff_id")
    g.staff = db.session().get(StaffUser, staff_id) if staff_id is not None else None


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.staff is None:
            return redirect(url_for("auth.login"))
        return view(*args, **kwargs)

    return wrapped


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        if g.staff is not None:
            return redirect(url_for("views.clients"))
        return render_template("login.html", email="")
    email = request.form.get("email", "").strip().lower()
    password = request.form.get("password", "")
    staff = db.session().scalar(select(StaffUser).where(StaffUser.email == email))
    if staff is None or not check_password_hash(staff.password_hash, password):
        # One message for both cases: the form must not tell which emails have accounts.
        return render_template("login.html", email=email, error="Invalid email or password."), 401
    session.clear()
    session["staff_id"] = staff.id
    return redirect(url_for("views.clients"))


@bp.post("/logout")
def logout() -> Any:
    session.clear()
    return redirect(url_for("auth.login"))
