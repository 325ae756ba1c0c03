"""End to end in a real headless browser: `spotify-etl ui --sample`, the asset graph, a
materialization launched from the UI, and the failed-URIs check.

Needs Debian's chromium (/usr/bin/chromium) and the `browser` extra (Playwright, which is
told to use that chromium, never to download one). `.ci/run` installs both and runs this
with `pytest -m browser`; the default test command leaves it out.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from pathlib import Path

import dagster as dg
import pytest
import requests

from spotify_etl_tests.conftest import CLI, cli_environment

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
DESIGN_ASSETS = {
    "raw": ["raw_plays"],
    "enrichment": ["enriched_tracks", "enriched_artists", "enriched_episodes", "enriched_podcasts"],
    "core": [
        "dim_date",
        "dim_time",
        "dim_reason",
        "dim_platform",
        "dim_listener",
        "dim_artist",
        "dim_track",
        "dim_podcast",
        "dim_episode",
        "track_versions",
        "fact_listening_sessions",
        "fact_tracks_history",
        "fact_podcasts_history",
    ],
    "mart": ["listening_report", "minutes_by_month", "year_in_review"],
}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def ui(database_url, tmp_path):
    port = _free_port()
    env = cli_environment(SPOTIFY_ETL_HOME=str(tmp_path / "home"), SPOTIFY_ETL_DATABASE_URL=database_url)
    log = tmp_path / "ui.log"
    # Output goes to a file, not a pipe: a full pipe would stall the UI's processes.
    with log.open("w") as out:
        process = subprocess.Popen(
            [CLI, "ui", "--sample", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    address = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while "Dagster UI ready" not in log.read_text() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.5)
    assert "Dagster UI ready" in log.read_text(), log.read_text()[-3000:]
    assert requests.get(f"{address}/server_info", timeout=5).ok
    yield address, tmp_path / "home" / "dagster"
    os.killpg(process.pid, 15)
    process.wait(timeout=60)


def _screenshot_dir(tmp_path: Path) -> Path:
    target = Path(os.environ.get("SPOTIFY_ETL_SCREENSHOT_DIR", tmp_path / "screenshots"))
    target.mkdir(parents=True, exist_ok=True)
    return target


def _wait_for_runs(dagster_home: Path, at_least: int, timeout_s: float = 300) -> list:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            runs = instance.get_runs()
        done = [r for r in runs if r.is_finished]
        if len(runs) >= at_least and len(done) == len(runs):
            return runs
        time.sleep(2)
    raise AssertionError(f"runs did not finish in {timeout_s} s")


def test_ui_shows_the_design_and_materializes(ui, tmp_path) -> None:
    from playwright.sync_api import expect, sync_playwright

    assert Path(CHROMIUM).exists(), "install Debian's chromium: apt-get install chromium"
    address, dagster_home = ui
    shots = _screenshot_dir(tmp_path)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})

        # The global graph: the three layers, and no first-visit pop-up in the way.
        page.goto(f"{address}/asset-groups", wait_until="networkidle")
        page.get_by_text("Materialize all").first.wait_for(timeout=60_000)
        for group in DESIGN_ASSETS:
            assert page.get_by_text(group, exact=True).count() > 0, group
        page.screenshot(path=str(shots / "1-global-asset-graph.png"))

        # Each group lists every asset of the design (a tall window: the list renders what is visible).
        page.set_viewport_size({"width": 1600, "height": 4000})
        for group, assets in DESIGN_ASSETS.items():
            page.goto(f"{address}/locations/spotify_etl/asset-groups/{group}", wait_until="networkidle")
            page.get_by_text(assets[0], exact=True).first.wait_for(timeout=60_000)
            body = page.inner_text("body")
            missing = [asset for asset in assets if asset not in body]
            assert not missing, f"{group}: {missing} not shown"
            page.screenshot(path=str(shots / f"2-group-{group}.png"))

        page.set_viewport_size({"width": 1600, "height": 1000})

        # The sensors (running by default) ingest the sample's listener, then load the months it
        # stored plays in; let them finish.
        sensor_runs = _wait_for_runs(dagster_home, at_least=2)
        assert all(run.is_success for run in sensor_runs), [r.status for r in sensor_runs]
        assert {run.job_name for run in sensor_runs} == {"ingest_exports", "full_load"}

        # The report's headline charts show in the asset's metadata: SVG the browser draws.
        page.goto(f"{address}/assets/listening_report", wait_until="networkidle")
        page.get_by_text("[Show Markdown]").first.click()
        chart = page.locator('img[src^="data:image/svg+xml"]').first
        chart.wait_for(timeout=60_000)
        assert chart.evaluate("image => image.complete && image.naturalWidth > 0")
        page.screenshot(path=str(shots / "2b-report-headline.png"))

        # Launch a materialization of the listener's partition from the UI and wait for its success.
        page.goto(f"{address}/assets/raw_plays", wait_until="networkidle")
        page.get_by_text("Materialize…", exact=True).first.click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_text("Loading pipeline and partition sets").first.wait_for(state="hidden", timeout=60_000)
        dialog.get_by_role("button", name="All", exact=True).click()
        # Every listener: here one ("default"), so one run (more would be a backfill).
        launch = dialog.get_by_role("button", name=re.compile(r"^Launch (1 run|backfill)$"))
        expect(launch).to_be_enabled(timeout=60_000)
        page.screenshot(path=str(shots / "3a-every-listener.png"))
        launch.click()
        runs = _wait_for_runs(dagster_home, at_least=len(sensor_runs) + 1)
        launched = [r for r in runs if r.run_id not in {s.run_id for s in sensor_runs}]
        assert launched and all(r.is_success for r in launched), [r.status for r in launched]
        page.goto(f"{address}/runs/{launched[0].run_id}", wait_until="networkidle")
        page.get_by_text("Success").first.wait_for(timeout=60_000)
        page.screenshot(path=str(shots / "3-run-from-ui.png"))

        # The failed-URIs check is visible on the enrichment asset.
        page.goto(f"{address}/assets/enriched_tracks?view=checks", wait_until="networkidle")
        page.get_by_text("failed_uris").first.wait_for(timeout=60_000)
        page.screenshot(path=str(shots / "4-failed-uris-check.png"))
        browser.close()
