"""Read endpoints of the hierarchy: user, teams, spaces, folders, lists, fields, tags (§8)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from clickup_sync.clickup.emulator.api_common import flag, workspace


async def get_user(request: Request) -> JSONResponse:
    return JSONResponse(workspace(request).authorized_user())


async def get_teams(request: Request) -> JSONResponse:
    return JSONResponse(workspace(request).teams())


async def get_spaces(request: Request) -> JSONResponse:
    return JSONResponse(workspace(request).spaces(request.path_params["team_id"], flag(request, "archived")))


async def get_space(request: Request) -> JSONResponse:
    return JSONResponse(workspace(request).space(request.path_params["space_id"]))


async def get_space_tags(request: Request) -> JSONResponse:
    return JSONResponse(workspace(request).space_tags(request.path_params["space_id"]))


async def get_folders(request: Request) -> JSONResponse:
    return JSONResponse(
        workspace(request).folders(request.path_params["space_id"], flag(request, "archived"))
    )


async def get_folderless_lists(request: Request) -> JSONResponse:
    space_id = request.path_params["space_id"]
    return JSONResponse(workspace(request).folderless_lists(space_id, flag(request, "archived")))


async def get_folder(request: Request) -> JSONResponse:
    return JSONResponse(workspace(request).folder(request.path_params["folder_id"]))


async def get_folder_lists(request: Request) -> JSONResponse:
    folder_id = request.path_params["folder_id"]
    return JSONResponse(workspace(request).folder_lists(folder_id, flag(request, "archived")))


async def get_list(request: Request) -> JSONResponse:
    return JSONResponse(workspace(request).get_list(request.path_params["list_id"]))


async def get_list_fields(request: Request) -> JSONResponse:
    return JSONResponse(workspace(request).list_fields(request.path_params["list_id"]))


async def get_folder_fields(request: Request) -> JSONResponse:
    return JSONResponse(workspace(request).folder_fields(request.path_params["folder_id"]))


async def get_space_fields(request: Request) -> JSONResponse:
    return JSONResponse(workspace(request).space_fields(request.path_params["space_id"]))


async def get_team_fields(request: Request) -> JSONResponse:
    return JSONResponse(workspace(request).team_fields(request.path_params["team_id"]))


ROUTES = [
    Route("/api/v2/user", get_user, methods=["GET"]),
    Route("/api/v2/team", get_teams, methods=["GET"]),
    Route("/api/v2/team/{team_id}/space", get_spaces, methods=["GET"]),
    Route("/api/v2/team/{team_id}/field", get_team_fields, methods=["GET"]),
    Route("/api/v2/space/{space_id}", get_space, methods=["GET"]),
    Route("/api/v2/space/{space_id}/tag", get_space_tags, methods=["GET"]),
    Route("/api/v2/space/{space_id}/folder", get_folders, methods=["GET"]),
    Route("/api/v2/space/{space_id}/list", get_folderless_lists, methods=["GET"]),
    Route("/api/v2/space/{space_id}/field", get_space_fields, methods=["GET"]),
    Route("/api/v2/folder/{folder_id}", get_folder, methods=["GET"]),
    Route("/api/v2/folder/{folder_id}/list", get_folder_lists, methods=["GET"]),
    Route("/api/v2/folder/{folder_id}/field", get_folder_fields, methods=["GET"]),
    Route("/api/v2/list/{list_id}", get_list, methods=["GET"]),
    Route("/api/v2/list/{list_id}/field", get_list_fields, methods=["GET"]),
]
