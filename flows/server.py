"""The Prefect server the project starts: Prefect's own app behind a host check.

`python -m flows.server --port 4200` serves Prefect's API, UI and background services (what
`prefect server start` runs) on 127.0.0.1, answering only requests addressed to this machine
(`Host: 127.0.0.1` or `localhost`): a web page of another site cannot reach it by pointing a
name at 127.0.0.1 (DNS rebinding). Cross-origin browser calls are refused by Prefect's own CORS
setting, which `previsecours serve` narrows to the server's own origin
(`PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS`); basic auth is Prefect's
(`PREFECT_SERVER_API_AUTH_STRING`, required by `serve-team`).
"""

from __future__ import annotations

import argparse

LOCAL_HOSTS = ("127.0.0.1", "localhost")


def guarded_app(allowed_hosts: tuple[str, ...] = LOCAL_HOSTS) -> object:
    """Prefect's server app (API, UI, services) wrapped in a trusted-host check."""
    from prefect.server.api.server import create_app
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    return TrustedHostMiddleware(create_app(final=True), allowed_hosts=list(allowed_hosts))


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="Prefect's server behind a host check.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4200)
    args = parser.parse_args()
    uvicorn.run(guarded_app(), host=args.host, port=args.port, log_level="warning")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
