"""The board: listing, adding and marking done, each user seeing and changing only their own tasks."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient


def test_board_lists_only_my_tasks(alice: FlaskClient) -> None:
    page = alice.get("/").text
    assert "Water the plants" in page
    assert "File taxes" in page
    assert "Bob&#39;s secret plan" not in page and "Bob's secret plan" not in page


def test_add_task(alice: FlaskClient) -> None:
    response = alice.post("/tasks", data={"title": "  Call the plumber  "})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert '<span class="title">Call the plumber</span>' in alice.get("/").text


def test_added_task_is_not_on_someone_elses_board(alice: FlaskClient, bob: FlaskClient) -> None:
    alice.post("/tasks", data={"title": "Alice only"})
    assert "Alice only" not in bob.get("/").text


def test_blank_title_is_refused(alice: FlaskClient) -> None:
    page = alice.post("/tasks", data={"title": "   "}, follow_redirects=True).text
    assert "A task needs a title." in page
    assert page.count('<li class="task') == 2


def test_overlong_title_is_refused(alice: FlaskClient) -> None:
    page = alice.post("/tasks", data={"title": "x" * 201}, follow_redirects=True).text
    assert "at most 200 characters" in page
    assert "x" * 201 not in page


def test_titles_are_escaped(alice: FlaskClient) -> None:
    alice.post("/tasks", data={"title": "<script>alert(1)</script>"})
    page = alice.get("/").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_mark_done(alice: FlaskClient, task_id: Callable[[str], int]) -> None:
    ident = task_id("Water the plants")
    before = alice.get("/").text
    assert f'action="/tasks/{ident}/done"' in before
    response = alice.post(f"/tasks/{ident}/done")
    assert response.status_code == 302
    after = alice.get("/").text
    assert f'action="/tasks/{ident}/done"' not in after
    assert f'<li class="task done" id="task-{ident}">' in after


def test_cannot_mark_someone_elses_task_done(
    alice: FlaskClient, bob: FlaskClient, task_id: Callable[[str], int]
) -> None:
    ident = task_id("Bob's secret plan")
    assert alice.post(f"/tasks/{ident}/done").status_code == 404
    assert f'action="/tasks/{ident}/done"' in bob.get("/").text  # still open for Bob


def test_missing_task_is_404(alice: FlaskClient) -> None:
    assert alice.post("/tasks/999999/done").status_code == 404


def test_task_routes_need_login(client: FlaskClient, task_id: Callable[[str], int]) -> None:
    ident = task_id("Water the plants")
    for path in ("/tasks", f"/tasks/{ident}/done"):
        response = client.post(path, data={"title": "sneaky"})
        assert response.status_code == 302
        assert response.headers["Location"] == "/login"
