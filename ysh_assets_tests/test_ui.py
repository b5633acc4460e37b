"""The Dagster UI as an operator sees it: `dagster dev` (webserver and daemon) from a root with nothing set but
offline sources, the daily chain run by the product's own schedule-to-sensor automation, then a real headless
Chromium: check counts on the asset graph, a partition's own row count, and a backfill launched from the UI.

Screenshots land in `ysh_assets_tests/artifacts/`; the asset graph one is the README's picture.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ysh_assets.aneel.assets import today_in_brazil
from ysh_assets_tests.conftest import free_port, service_unavailable

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHAIN = ("aneel_snapshot_job", "aneel_generation_units_job", "aneel_tariffs_job", "aneel_tariffs_current_job")
UNFINISHED = {"QUEUED", "NOT_STARTED", "STARTING", "STARTED", "MANAGED", "CANCELING"}


class Dagit:
    def __init__(self, url: str):
        self.url = url

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.loads(response.read())
        assert "errors" not in body, body
        return body["data"]

    def runs(self) -> list[dict]:
        data = self.graphql("{ runsOrError { ... on Runs { results { runId jobName status tags { key value } } } } }")
        return data["runsOrError"]["results"]

    def wait_for(self, done, timeout: float, what: str) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.runs()
            failed = [r for r in runs if r["status"] == "FAILURE"]
            assert not failed, f"runs failed while waiting for {what}: {failed}"
            if done(runs):
                return runs
            time.sleep(3)
        raise AssertionError(f"timed out waiting for {what}: {[(r['jobName'], r['status']) for r in self.runs()]}")


@pytest.fixture(scope="module")
def dagit(tmp_path_factory) -> Iterator[Dagit]:
    """`dagster dev` in a root of its own: the repository's dagster.yaml and workspace.yaml, bundled sources."""
    root = tmp_path_factory.mktemp("ui-root")
    for name in ("dagster.yaml", "workspace.yaml"):
        shutil.copy(ROOT / name, root / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YSH_", "DAGSTER_"))}
    env["YSH_SOURCES"] = "bundled"
    port = free_port()
    log = (root / "dagster-dev.log").open("w")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("dagster")),
            "dev",
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(f"{url}/server_info", timeout=2).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                os.killpg(process.pid, signal.SIGKILL)
                pytest.fail(f"dagster dev did not come up:\n{(root / 'dagster-dev.log').read_text()[-3000:]}")
            time.sleep(0.5)
    yield Dagit(url)
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    log.close()


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright

        manager = sync_playwright().start()
        chromium = manager.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )  # fmt: skip
    except Exception as error:  # no browser here: fail under YSH_REQUIRE_SERVICES=1, else skip
        service_unavailable("headless Chromium", error)
    yield chromium
    chromium.close()
    manager.stop()


def _launch(dagit: Dagit, job: str, partition: str) -> None:
    launched = dagit.graphql(
        """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
             __typename ... on PythonError { message } } }""",
        {
            "params": {
                "selector": {
                    "repositoryLocationName": "ysh_assets",
                    "repositoryName": "__repository__",
                    "jobName": job,
                },
                "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}]},
            }
        },
    )
    assert launched["launchRun"]["__typename"] == "LaunchRunSuccess", launched


def test_the_ui_shows_the_daily_chain_checks_row_counts_and_runs_a_backfill(dagit: Dagit, browser):
    # the daily chain as the daemon runs it: the snapshot run, then the run-status sensors launch the rest
    _launch(dagit, "aneel_snapshot_job", today_in_brazil().isoformat())
    dagit.wait_for(
        lambda runs: (
            {r["jobName"] for r in runs if r["status"] == "SUCCESS"} >= set(CHAIN)
            and not any(r["status"] in UNFINISHED for r in runs)
        ),
        timeout=900,
        what="the daily chain",
    )

    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    # the group's graph: generation_units has 7 checks, tariffs 4, all recorded for every partition
    page.goto(f"{dagit.url}/locations/ysh_assets/asset-groups/aneel", wait_until="networkidle")
    skip = page.get_by_role("button", name="Skip")  # the first-run "join the community" modal, when shown
    try:
        skip.wait_for(timeout=10_000)
        skip.click()
    except PlaywrightTimeout:
        pass
    page.get_by_text("7 / 7 Passed", exact=True).wait_for(timeout=30_000)
    page.get_by_text("4 / 4 Passed", exact=True).wait_for(timeout=30_000)
    assert page.get_by_text("Passed").count() == 2 and page.get_by_text("DuckDB", exact=True).count() >= 4
    page.wait_for_timeout(1_000)
    page.screenshot(path=ARTIFACTS / "asset-graph.png")

    page.goto(f"{dagit.url}/assets/aneel/generation_units?view=partitions&partition=AC", wait_until="networkidle")
    count = page.get_by_text("dagster/partition_row_count", exact=True).first
    count.wait_for(timeout=30_000)
    row = page.locator("tr", has=page.get_by_text("dagster/partition_row_count", exact=True)).first
    assert row.inner_text().split()[-1] == "40"  # AC's own 40 units, not the run's 200
    page.screenshot(path=ARTIFACTS / "partition-ac.png")

    before = {r["runId"] for r in dagit.runs()}
    page.goto(f"{dagit.url}/assets/aneel/generation_units", wait_until="networkidle")
    page.get_by_role("button", name="Materialize…").first.click()
    page.get_by_text("All", exact=True).first.click()
    page.screenshot(path=ARTIFACTS / "backfill-dialog.png")
    page.get_by_role("button", name="Launch backfill").click()
    runs = dagit.wait_for(
        lambda runs: (
            any(r["runId"] not in before and r["status"] == "SUCCESS" for r in runs)
            and not any(r["status"] in UNFINISHED for r in runs)
        ),
        timeout=600,
        what="the backfill launched from the UI",
    )
    new = [r for r in runs if r["runId"] not in before]
    assert len(new) == 1  # all 27 UFs as one run (the single-run backfill policy)
    tags = {t["key"]: t["value"] for t in new[0]["tags"]}
    assert "dagster/backfill" in tags
    assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == ("AC", "TO")
    # the backfill's load claimed its pool: the limit holds for UI launches too, without any run tag
    limits = dagit.graphql("{ instance { concurrencyLimits { concurrencyKey slotCount } } }")
    assert {"concurrencyKey": "heavy_load", "slotCount": 1} in limits["instance"]["concurrencyLimits"]
    page.close()


def _succeeded(runs: list[dict], before: set[str], job: str) -> int:
    """How many runs of `job` started since `before` succeeded."""
    return sum(r["runId"] not in before and r["jobName"] == job and r["status"] == "SUCCESS" for r in runs)


def test_the_ui_shows_a_distributors_day_with_its_checks_per_partition(dagit: Dagit, browser):
    before = {r["runId"] for r in dagit.runs()}
    _launch(dagit, "catalog_certifications_job", "inverter")
    _launch(dagit, "catalog_certifications_job", "module")
    dagit.wait_for(
        lambda runs: (
            _succeeded(runs, before, "catalog_certifications_job") == 2
            and not any(r["status"] in UNFINISHED for r in runs)
        ),
        timeout=600,
        what="the certification lists",
    )
    day = today_in_brazil().isoformat()
    _launch(dagit, "catalog_daily_job", f"{day}|solfacil")
    # the daemon's declarative automation may start runs of its own meanwhile (the search index after the
    # catalog): only this test's runs are counted, and none may still be running
    dagit.wait_for(
        lambda runs: (
            _succeeded(runs, before, "catalog_daily_job") == 1 and not any(r["status"] in UNFINISHED for r in runs)
        ),
        timeout=600,
        what="solfacil's day",
    )
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(f"{dagit.url}/locations/ysh_assets/asset-groups/catalog", wait_until="networkidle")
    # products and kits: their 3 checks each passed for today's solfacil partition (6 rejected panels of 175
    # records are under the 10 % threshold); the links' WARN check lists the uncertified equipment
    page.get_by_text("3 / 3 Passed", exact=True).first.wait_for(timeout=30_000)
    assert page.get_by_text("3 / 3 Passed", exact=True).count() == 2
    assert page.get_by_text("DuckDB", exact=True).count() >= 5
    page.wait_for_timeout(1_000)
    page.screenshot(path=ARTIFACTS / "catalog-graph.png")
    page.close()
