"""The emulator over real HTTP on 127.0.0.1: paging, auth, the rate limit, control endpoints, and
signed webhook deliveries arriving at a local receiver (clickup-api.md §1, §3, §7, §10)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from clickup_sync.clickup.emulator import EmulatorConfig, EmulatorServer
from clickup_sync.clickup.signature import verify_clickup_signature


class Receiver:
    """A webhook endpoint on 127.0.0.1 that records raw bodies and headers."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/clickup"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(seed=21, tasks=400, rate_limit_per_minute=None, webhook_retry_delays=(0.05,) * 4)
    with EmulatorServer(config, host="127.0.0.1", port=0) as server:
        yield server


@pytest.fixture
def client(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=emulator.base_url, headers={"Authorization": emulator.token}, timeout=30
    ) as client:
        yield client


def test_addresses_and_token(emulator: EmulatorServer) -> None:
    assert emulator.base_url == f"http://127.0.0.1:{emulator.port}/api/v2"
    assert emulator.root_url == f"http://127.0.0.1:{emulator.port}"
    assert emulator.token == "pk_emulator_token"
    assert emulator.team_id == emulator.workspace.team_id


def test_a_full_sweep_over_http_finds_every_task_of_the_ground_truth(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    truth = httpx.get(f"{emulator.root_url}/_emulator/state").json()
    seen: set[str] = set()

    def sweep(path: str, **params: Any) -> None:
        page = 0
        while True:
            body = client.get(
                path, params={**params, "page": page, "include_closed": "true", "subtasks": "true"}
            ).json()
            seen.update(task["id"] for task in body["tasks"])
            if len(body["tasks"]) < 100:
                return
            page += 1

    for archived in ("false", "true"):
        sweep(f"/team/{emulator.team_id}/task", archived=archived)
    for listing in truth["lists"]:
        if listing["archived"]:
            for archived in ("false", "true"):
                sweep(f"/list/{listing['id']}/task", archived=archived)
    assert seen == set(truth["tasks"])


def test_auth_errors_over_http(emulator: EmulatorServer) -> None:
    assert httpx.get(f"{emulator.base_url}/user").json()["ECODE"] == "OAUTH_017"
    assert (
        httpx.get(f"{emulator.base_url}/user", headers={"Authorization": "nope"}).json()["ECODE"]
        == "OAUTH_025"
    )


def test_webhook_deliveries_arrive_signed_at_a_local_receiver(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    with Receiver() as receiver:
        created = client.post(
            f"/team/{emulator.team_id}/webhook", json={"endpoint": receiver.url, "events": ["*"]}
        )
        webhook = created.json()["webhook"]
        list_id = next(t["id"] for t in emulator.workspace.ground_truth()["lists"] if not t["archived"])
        task = client.post(f"/list/{list_id}/task", json={"name": "Webhook me 🚀"}).json()
        client.put(f"/task/{task['id']}", json={"priority": 1})
        assert emulator.dispatcher.wait_idle(timeout=10)
        payloads = [p for p in receiver.payloads() if p["task_id"] == task["id"]]
        assert [p["event"] for p in payloads] == [
            "taskCreated",
            "taskStatusUpdated",
            "taskPriorityUpdated",
            "taskUpdated",
        ]
        for headers, body in receiver.received:
            assert headers["Content-Type"] == "application/json"
            assert verify_clickup_signature(body, headers["X-Signature"], [webhook["secret"]])
            assert b": " not in body  # compact JSON
        assert payloads[2]["history_items"] == payloads[3]["history_items"]
        stats = emulator.stats()
        assert stats["deliveries"]["by_outcome"]["delivered"] >= 4
        client.delete(f"/webhook/{webhook['id']}")


def test_activity_runs_in_the_background_and_is_visible_in_stats(emulator: EmulatorServer) -> None:
    control = f"{emulator.root_url}/_emulator/activity"
    before = emulator.workspace.state.version
    assert httpx.post(control, json={"rate": 50}).json()["running"] is True
    deadline = time.monotonic() + 10
    while emulator.workspace.state.version < before + 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    stopped = httpx.delete(control).json()
    assert stopped["running"] is False and stopped["changes_made"] >= 5
    assert httpx.get(f"{emulator.root_url}/_emulator/stats").json()["activity"]["changes_made"] >= 5


def test_rate_limit_over_http_counts_429s() -> None:
    with EmulatorServer(EmulatorConfig(seed=3, tasks=30, rate_limit_per_minute=5)) as emulator:
        headers = {"Authorization": emulator.token}
        answers = [httpx.get(f"{emulator.base_url}/team", headers=headers) for _ in range(7)]
        assert [a.status_code for a in answers] == [200] * 5 + [429] * 2
        assert answers[-1].json() == {"err": "Rate limit reached", "ECODE": "APP_002"}
        assert all("X-RateLimit-Reset" in a.headers for a in answers)
        assert emulator.stats()["rate_limited_429"] == 2
        emulator.configure(rate_limit_per_minute=None)
        assert httpx.get(f"{emulator.base_url}/team", headers=headers).status_code == 200


def test_a_revoked_token_is_refused_over_http() -> None:
    config = EmulatorConfig(seed=3, tasks=30, valid_tokens=frozenset({"pk_emulator_token", "pk_old"}))
    with EmulatorServer(config) as emulator:
        assert httpx.get(f"{emulator.base_url}/user", headers={"Authorization": "pk_old"}).status_code == 200
        httpx.put(f"{emulator.root_url}/_emulator/config", json={"valid_tokens": ["pk_emulator_token"]})
        refused = httpx.get(f"{emulator.base_url}/user", headers={"Authorization": "pk_old"})
        assert refused.status_code == 401 and refused.json()["ECODE"] == "OAUTH_025"
        assert (
            httpx.get(f"{emulator.base_url}/user", headers={"Authorization": emulator.token}).status_code
            == 200
        )


def test_dropped_deliveries_are_listed_with_the_history_items_they_carried(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    """Chaos drops a delivery without sending it; the control API says which items were lost."""
    with Receiver() as receiver:
        created = client.post(
            f"/team/{emulator.team_id}/webhook", json={"endpoint": receiver.url, "events": ["*"]}
        )
        list_id = next(t["id"] for t in emulator.workspace.ground_truth()["lists"] if not t["archived"])
        task = client.post(f"/list/{list_id}/task", json={"name": "Drop me"}).json()
        assert emulator.dispatcher.wait_idle(timeout=10)
        httpx.put(f"{emulator.root_url}/_emulator/config", json={"chaos": {"drop_rate": 1.0}})
        client.put(f"/task/{task['id']}", json={"name": "Lost rename"})
        assert emulator.dispatcher.wait_idle(timeout=10)
        httpx.put(f"{emulator.root_url}/_emulator/config", json={"chaos": {"drop_rate": 0.0}})
        dropped = httpx.get(f"{emulator.root_url}/_emulator/deliveries", params={"outcome": "dropped"}).json()
        everything = httpx.get(f"{emulator.root_url}/_emulator/deliveries").json()["deliveries"]
        client.delete(f"/webhook/{created.json()['id']}")

    (lost,) = dropped["deliveries"]
    assert (lost["task_id"], lost["event"], lost["outcome"]) == (task["id"], "taskUpdated", "dropped")
    assert [(item["field"], item["after"]) for item in lost["history_items"]] == [("name", "Lost rename")]
    sent_items = {item["id"] for p in receiver.payloads() for item in p.get("history_items", [])}
    assert lost["history_items"][0]["id"] not in sent_items
    assert {d["outcome"] for d in everything} == {"delivered", "dropped"}
