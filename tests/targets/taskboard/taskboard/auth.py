"""Login, logout and the current user (kept in Flask's signed session cookie)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from sqlalchemy import select
from werkzeug.security import check_password_hash

from . import db
from .models import User

bp = Blueprint("auth", __name__)


def load_user() -> None:
    user_id = session.get("user_id")
    g.user = db.session().get(User, user_id) if user_id is not None else None


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.user is None:
            return redirect(url_for("auth.login"))
        return view(*args, **kwargs)

    return wrapped


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        if g.user is not None:
            return redirect(url_for("board.index"))
        return render_template("login.html", email="")
    email = request.form.get("email", "").strip().lower()
    password = request.form.get("password", "")
    user = db.session().scalar(select(User).where(User.email == email))
    if user is None or not check_password_hash(user.password_hash, password):
        # One message for both cases: the form must not tell which emails have accounts.
        return render_template("login.html", email=email, error="Invalid email or password."), 401
    session.clear()
    session["user_id"] = user.id
    return redirect(url_for("board.index"))


# GET too, so a plain link works; logging someone out is the worst a forged request can do here.
@bp.route("/logout", methods=["GET", "POST"])
def logout() -> Any:
    session.clear()
    return redirect(url_for("auth.login"))
