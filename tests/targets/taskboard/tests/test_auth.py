"""Logging in and out, and what a visitor who is not logged in gets."""

from __future__ import annotations

from flask.testing import FlaskClient

from taskboard import create_app


def test_board_redirects_to_login_when_logged_out(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"


def test_login_page_has_the_form(client: FlaskClient) -> None:
    response = client.get("/login")
    assert response.status_code == 200
    assert 'name="email"' in response.text
    assert 'name="password"' in response.text


def test_login_success_shows_the_display_name(client: FlaskClient) -> None:
    response = client.post(
        "/login", data={"email": "alice@example.com", "password": "correct horse"}, follow_redirects=True
    )
    assert response.status_code == 200
    assert "Signed in as Alice Anders" in response.text
    assert "Water the plants" in response.text


def test_login_ignores_email_case_and_spaces(client: FlaskClient) -> None:
    response = client.post("/login", data={"email": "  Alice@Example.COM ", "password": "correct horse"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_login_wrong_password_is_refused(client: FlaskClient) -> None:
    response = client.post("/login", data={"email": "alice@example.com", "password": "battery staple"})
    assert response.status_code == 401
    assert "Invalid email or password." in response.text
    assert client.get("/").status_code == 302  # still logged out


def test_login_unknown_email_gets_the_same_answer(client: FlaskClient) -> None:
    response = client.post("/login", data={"email": "mallory@example.com", "password": "correct horse"})
    assert response.status_code == 401
    assert "Invalid email or password." in response.text


def test_login_page_redirects_when_already_logged_in(alice: FlaskClient) -> None:
    response = alice.get("/login")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_logout_ends_the_session(alice: FlaskClient) -> None:
    assert alice.get("/").status_code == 200
    response = alice.post("/logout")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert alice.get("/").status_code == 302


def test_session_cookie_signed_with_another_secret_is_refused(alice: FlaskClient, database_url: str) -> None:
    cookie = alice.get_cookie("session")
    assert cookie is not None
    other = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "another-secret"}).test_client()
    other.set_cookie("session", cookie.value)
    assert other.get("/").status_code == 302
