"""Fixtures and helpers shared by tests/ and bench/ — never used by the product.

- `small`: a training small enough for tests (`SMALL_TRAINING`, `write_small_params`);
- `servers`: real Prefect, Dask and PostgreSQL servers on free loopback ports;
- `forecast_fixture`: a realistic forecast issue and curated history for the dashboard;
- `browser`: headless Chromium's path and flags for the dashboard's browser tests and bench.

Nothing under `previsecours` outside this package imports it. It lives in the installed
package so that tests and benchmark scripts import it by name, without touching `sys.path`.
"""
