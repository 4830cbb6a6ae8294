"""Task endpoints: reads, writes, custom field values, dependencies, links, tags, v3 move
(reference §3, §5.4, §6.2, §8.5). Writes answer as ClickUp does: the task for create/update, `{}`
for field/dependency/tag/delete calls, `{"task": …}` for links.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from clickup_sync.clickup.emulator import api_errors
from clickup_sync.clickup.emulator.api_common import flag, json_body, task_id_of, workspace
from clickup_sync.clickup.emulator.queries import parse_task_query


def _json_bytes(body: bytes) -> Response:
    return Response(body, media_type="application/json")


async def list_tasks(request: Request) -> Response:
    query = parse_task_query(request.query_params)
    return _json_bytes(workspace(request).list_tasks_encoded(request.path_params["list_id"], query))


async def team_tasks(request: Request) -> Response:
    query = parse_task_query(request.query_params)
    return _json_bytes(workspace(request).team_tasks_encoded(request.path_params["team_id"], query))


async def create_task(request: Request) -> JSONResponse:
    body = await json_body(request)
    return JSONResponse(workspace(request).create_task(request.path_params["list_id"], body))


async def get_task(request: Request) -> Response:
    task = workspace(request).get_task_encoded(
        task_id_of(request),
        include_subtasks=flag(request, "include_subtasks"),
        include_markdown=flag(request, "include_markdown_description"),
    )
    return _json_bytes(task)


async def update_task(request: Request) -> JSONResponse:
    task_id = task_id_of(request)
    body = await json_body(request)
    return JSONResponse(workspace(request).update_task(task_id, body))


async def delete_task(request: Request) -> JSONResponse:
    workspace(request).delete_task(task_id_of(request))
    return JSONResponse({})


async def time_in_status(request: Request) -> JSONResponse:
    return JSONResponse(workspace(request).time_in_status(task_id_of(request)))


async def bulk_time_in_status(request: Request) -> JSONResponse:
    task_ids = [*request.query_params.getlist("task_ids"), *request.query_params.getlist("task_ids[]")]
    return JSONResponse(workspace(request).bulk_time_in_status(task_ids))


async def set_field_value(request: Request) -> JSONResponse:
    task_id = task_id_of(request)
    body = await json_body(request)
    workspace(request).set_field_value(task_id, request.path_params["field_id"], body)
    return JSONResponse({})


async def remove_field_value(request: Request) -> JSONResponse:
    workspace(request).remove_field_value(task_id_of(request), request.path_params["field_id"])
    return JSONResponse({})


async def add_dependency(request: Request) -> JSONResponse:
    task_id = task_id_of(request)
    body = await json_body(request)
    workspace(request).add_dependency(task_id, body)
    return JSONResponse({})


async def remove_dependency(request: Request) -> JSONResponse:
    query = {
        key: request.query_params[key]
        for key in ("depends_on", "dependency_of")
        if key in request.query_params
    }
    workspace(request).remove_dependency(task_id_of(request), query)
    return JSONResponse({})


async def add_link(request: Request) -> JSONResponse:
    return JSONResponse(workspace(request).add_link(task_id_of(request), request.path_params["links_to"]))


async def remove_link(request: Request) -> JSONResponse:
    return JSONResponse(workspace(request).remove_link(task_id_of(request), request.path_params["links_to"]))


async def add_tag(request: Request) -> JSONResponse:
    workspace(request).add_tag(task_id_of(request), request.path_params["tag_name"])
    return JSONResponse({})


async def remove_tag(request: Request) -> JSONResponse:
    workspace(request).remove_tag(task_id_of(request), request.path_params["tag_name"])
    return JSONResponse({})


async def move_task_home_list(request: Request) -> JSONResponse:
    """v3 `PUT /workspaces/{ws}/tasks/{task_id}/home_list/{list_id}`; the answer body is not
    documented, so the emulator answers `{}` (UNCONFIRMED)."""
    ws = workspace(request)
    if request.path_params["workspace_id"] != ws.team_id:
        raise api_errors.team_not_authorized()
    body = await json_body(request)
    ws.move_task(request.path_params["task_id"], request.path_params["list_id"], body)
    return JSONResponse({})


ROUTES = [
    Route("/api/v2/list/{list_id}/task", list_tasks, methods=["GET"]),
    Route("/api/v2/list/{list_id}/task", create_task, methods=["POST"]),
    Route("/api/v2/team/{team_id}/task", team_tasks, methods=["GET"]),
    Route("/api/v2/task/bulk_time_in_status/task_ids", bulk_time_in_status, methods=["GET"]),
    Route("/api/v2/task/{task_id}", get_task, methods=["GET"]),
    Route("/api/v2/task/{task_id}", update_task, methods=["PUT"]),
    Route("/api/v2/task/{task_id}", delete_task, methods=["DELETE"]),
    Route("/api/v2/task/{task_id}/time_in_status", time_in_status, methods=["GET"]),
    Route("/api/v2/task/{task_id}/field/{field_id}", set_field_value, methods=["POST"]),
    Route("/api/v2/task/{task_id}/field/{field_id}", remove_field_value, methods=["DELETE"]),
    Route("/api/v2/task/{task_id}/dependency", add_dependency, methods=["POST"]),
    Route("/api/v2/task/{task_id}/dependency", remove_dependency, methods=["DELETE"]),
    Route("/api/v2/task/{task_id}/link/{links_to}", add_link, methods=["POST"]),
    Route("/api/v2/task/{task_id}/link/{links_to}", remove_link, methods=["DELETE"]),
    Route("/api/v2/task/{task_id}/tag/{tag_name}", add_tag, methods=["POST"]),
    Route("/api/v2/task/{task_id}/tag/{tag_name}", remove_tag, methods=["DELETE"]),
    Route(
        "/api/v3/workspaces/{workspace_id}/tasks/{task_id}/home_list/{list_id}",
        move_task_home_list,
        methods=["PUT"],
    ),
]
