"""The Prefect server the project starts answers only this machine's own pages (issue #17):
a request addressed to another host name (DNS rebinding) is refused, a cross-origin call from
another site gets no CORS grant, and the server's own origin works."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from previsecours.adapters.services import started
from previsecours.testing.servers import free_port, prefect_server


@pytest.fixture(scope="module")
def prefect_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("guarded-prefect")
    port = free_port()
    with started([prefect_server(home / ".prefect", port)], home / "logs", announce=print):
        yield f"http://127.0.0.1:{port}"


def _get(url: str, headers: dict[str, str], method: str = "GET") -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers)


def test_a_foreign_host_name_is_refused(prefect_url: str) -> None:
    status, _ = _get(f"{prefect_url}/api/health", {"Host": "attacker.example"})
    assert status == 400
    status, _ = _get(f"{prefect_url}/api/flow_runs/filter", {"Host": "attacker.example:4200"})
    assert status == 400


def test_this_machine_is_served(prefect_url: str) -> None:
    assert _get(f"{prefect_url}/api/health", {})[0] == 200
    port = prefect_url.rsplit(":", 1)[1]
    assert _get(f"{prefect_url}/api/health", {"Host": f"localhost:{port}"})[0] == 200


def test_cross_origin_calls_get_no_grant_but_the_own_origin_does(prefect_url: str) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    _, foreign = _get(
        f"{prefect_url}/api/deployments/filter",
        {**preflight, "Origin": "http://attacker.example"},
        method="OPTIONS",
    )
    assert foreign.get("access-control-allow-origin") in (None, "")
    _, own = _get(
        f"{prefect_url}/api/deployments/filter",
        {**preflight, "Origin": prefect_url},
        method="OPTIONS",
    )
    assert own.get("access-control-allow-origin") == prefect_url


def test_the_ui_still_loads(prefect_url: str) -> None:
    status, headers = _get(f"{prefect_url}/", {})
    assert status == 200 and "text/html" in headers.get("content-type", "")
