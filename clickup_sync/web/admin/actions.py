"""What /admin can do (POST only, each one checking the CSRF token first): sign in and out, replay
dead deliveries, put a failed job back in the queue. Results come back by redirect (POST, then
GET), as counts in the query string."""

from __future__ import annotations

from typing import Final
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clickup_sync.ops.dead_letters import replay_dead_deliveries, retry_failed_job
from clickup_sync.web.admin.gate import (
    AdminGate,
    admin_root,
    client_address,
    set_admin_cookie,
    too_many_attempts,
)
from clickup_sync.web.admin.pages import render, runtime_of
from clickup_sync.web.admin.security import (
    CSRF_COOKIE,
    CSRF_FIELD,
    SESSION_COOKIE,
    SESSION_SECONDS,
    AdminSecrets,
)

MAX_FORM_FIELDS: Final = 20


async def checked_form(request: Request) -> FormData:
    """The submitted form, once its CSRF token matches this browser's seed; 403 otherwise."""
    secrets: AdminSecrets = request.app.state.secrets
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    token = form.get(CSRF_FIELD)
    if not secrets.csrf_valid(request.cookies.get(CSRF_COOKIE), token if isinstance(token, str) else None):
        raise HTTPException(403, "The form expired or did not come from this site; reload the page.")
    return form


def text_field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def safe_next(target: str, root: str) -> str:
    """Only a path inside /admin: never another site (`//evil`, `https://…`)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return root + target
    return root + "/"


async def login_page(request: Request) -> Response:
    return render(
        request, "login.html", failed=False, next=request.query_params.get("next", "/"), page="login"
    )


async def login(request: Request) -> Response:
    form = await checked_form(request)
    secrets: AdminSecrets = request.app.state.secrets
    gate: AdminGate = request.app.state.gate
    client = client_address(request)
    wait = gate.throttle.retry_after(client)
    if wait > 0:
        return too_many_attempts(wait)
    target = text_field(form, "next") or "/"
    if not secrets.check_login(text_field(form, "username"), text_field(form, "password")):
        await gate.record_failure(client)
        return render(request, "login.html", 401, failed=True, next=target, page="login")
    gate.throttle.succeeded(client)
    response = RedirectResponse(safe_next(target, admin_root(request.scope)), status_code=303)
    set_admin_cookie(response, request.scope, SESSION_COOKIE, secrets.new_session(), max_age=SESSION_SECONDS)
    return response


async def logout(request: Request) -> Response:
    await checked_form(request)
    response = RedirectResponse(f"{admin_root(request.scope)}/login", status_code=303)
    set_admin_cookie(response, request.scope, SESSION_COOKIE, "", max_age=0)
    return response


async def replay(request: Request) -> Response:
    """One dead delivery (`delivery_id`) or all of them (`all`), processed now, in this process."""
    form = await checked_form(request)
    delivery_id = text_field(form, "delivery_id")
    if delivery_id:
        if not delivery_id.isdigit():
            raise HTTPException(400, "delivery_id must be a number")
        ids: list[int] | None = [int(delivery_id)]
    elif text_field(form, "all"):
        ids = None
    else:
        raise HTTPException(400, "say which delivery to replay, or all")
    result = await replay_dead_deliveries(runtime_of(request), ids)
    counts = {
        "processed": result.outcomes["processed"],
        "parked": result.outcomes["parked"],
        "malformed": result.outcomes["malformed"],
        "failed": result.outcomes["failed again"],
        "remaining": result.remaining,
    }
    return RedirectResponse(f"{admin_root(request.scope)}/dead-letters?{urlencode(counts)}", status_code=303)


async def retry_job(request: Request) -> Response:
    await checked_form(request)
    requeued = await retry_failed_job(runtime_of(request), request.path_params["job_id"])
    result = urlencode({"requeued": 1} if requeued else {"waiting": 1})
    return RedirectResponse(f"{admin_root(request.scope)}/dead-letters?{result}", status_code=303)
