"""The Console in the system Chromium against a real server: sign in, create an export and watch it
complete live, download it (sha256 = manifest), schedules, verification, clear form errors; screenshots."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import SMALL_SCAN, Server, free_port, start_server, upload, wait_status

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Screenshots go to docs/img only when asked (EXPORTCENTER_UPDATE_SCREENSHOTS=1): a test run must not
# change tracked files.
SHOTS = (Path(__file__).resolve().parents[2] / "docs" / "img" if os.environ.get("EXPORTCENTER_UPDATE_SCREENSHOTS")
         else Path(tempfile.mkdtemp(prefix="console-shots-")))

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs the system Chromium")


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Loopback webhooks are allowed so that a delivery to a closed local port can be watched retrying.
    yield from start_server(tmp_path_factory.mktemp("console"), job_stage_delay_seconds="0.25",
                            webhook_allow_hosts='["127.0.0.1"]')


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield instance
        instance.close()


def sign_in(page: object, server: Server, tenant: str, base: str | None = None) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto((base or server.url) + "/console")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Token").fill(server.token(tenant))
    expect(page.get_by_label("Tenant")).to_have_value(tenant)  # read from the token's claim
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#live")).to_have_text("live", timeout=10_000)


def test_console_end_to_end(console_server: Server, browser: object, tmp_path: Path) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    client = console_server.client("acme")
    scan_id = upload(client, SMALL_SCAN)
    bundle_id = client.post("/api/v1/exports", json={"type": "evidence_bundle", "format": "zip",
                                                     "scope": {"scan_ids": [scan_id]}}).json()["export_id"]
    wait_status(client, bundle_id, {"completed"})

    context = browser.new_context(viewport={"width": 1366, "height": 820}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(console_server.url + "/console")
    page.screenshot(path=str(tmp_path / "signin.png"))
    shutil.copy(tmp_path / "signin.png", SHOTS / "console-signin.png")
    sign_in(page, console_server, "acme")
    page.evaluate("window.__noReload = 'still here'")

    # The create form offers only valid pairs; a form without a scope gets a clear message.
    page.get_by_role("button", name="New export").click()
    create = page.locator("#view-create")
    create.get_by_label("Type", exact=True).select_option("scan_report")
    assert page.locator("#create-format option").all_inner_texts() == ["pdf", "json", "sarif"]
    create.get_by_label("Type", exact=True).select_option("sbom")
    assert page.locator("#create-format option").all_inner_texts() == ["cyclonedx", "spdx"]
    create.get_by_label("Type", exact=True).select_option("scan_report")
    page.get_by_role("button", name="Create export").click()
    expect(page.locator("#create-error")).to_contain_text("Choose the scope")
    # Invalid delivery configuration: told exactly what is wrong, nothing is sent.
    page.locator(f"#scan-{scan_id}").check()
    create.get_by_label("Method").select_option("webhook")
    create.get_by_label("Configuration (JSON)").fill("{not json")
    page.get_by_role("button", name="Create export").click()
    expect(page.locator("#create-error")).to_contain_text("must be a JSON object")
    expect(page.locator("#create-delivery-config")).to_have_attribute("aria-invalid", "true")
    page.screenshot(path=str(SHOTS / "console-create.png"), full_page=True)
    create.get_by_label("Method").select_option("download")
    create.get_by_label("Configuration (JSON)").fill("")
    create.get_by_label("Format").select_option("json")
    page.get_by_role("button", name="Create export").click()

    # Queued -> processing -> completed, pushed over the WebSocket (no reload, no polling).
    expect(page.locator("#exports-table tbody tr")).to_have_count(2)
    row = page.locator(f"#exports-table tbody tr:not([data-export-id='{bundle_id}'])")
    expect(row.locator("[data-role=status]")).to_have_text("completed", timeout=20_000)
    expect(row.locator("[data-role=delivery]")).to_have_text("delivered", timeout=10_000)
    history = row.get_attribute("data-history") or ""
    assert history.split()[0] == "queued" and history.split()[-1] == "completed" and "processing" in history
    assert page.evaluate("window.__noReload") == "still here"
    export_id = row.get_attribute("data-export-id")

    # Download the artifact and compare it with the manifest shown in the detail panel.
    expect(page.locator("#detail-manifest")).to_contain_text('"sha256"', timeout=10_000)
    manifest = json.loads(page.locator("#detail-manifest").inner_text())
    assert manifest["export_id"] == export_id
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download report.json").click()
    saved = tmp_path / "report.json"
    download_info.value.save_as(saved)
    entry = next(a for a in manifest["artifacts"] if a["name"] == "report.json")
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == entry["sha256"]
    assert saved.stat().st_size == entry["size"]
    expect(page.locator("#detail-deliveries")).to_contain_text("download · attempt 1 · delivered")
    page.screenshot(path=str(SHOTS / "console-exports.png"), full_page=True)

    # The form starts afresh after a successful export: no scan, sealing or delivery carried over.
    page.get_by_role("button", name="New export").click()
    expect(page.locator(f"#scan-{scan_id}")).not_to_be_checked()
    expect(page.locator("#opt-evidence")).not_to_be_checked()
    expect(create.get_by_label("Method")).to_have_value("")
    expect(page.locator("#create-delivery-config")).to_be_disabled()
    expect(page.locator("#create-delivery-config")).to_have_value("")

    # Schedules: the server's refusal of a bad cron is shown in words; a good one is listed.
    page.get_by_role("button", name="Schedules").click()
    schedules = page.locator("#view-schedules")
    schedules.get_by_label("Name").fill("weekly-summary")
    schedules.get_by_label("Cron (five fields)").fill("61 8 * * MON")
    page.locator("#sched-type").select_option("scan_summary")
    page.locator("#sched-format").select_option("csv")
    page.locator(f"#sched-scan-{scan_id}").check()
    page.get_by_role("button", name="Create schedule").click()
    expect(page.locator("#schedule-form-error")).to_contain_text("cron")
    expect(page.locator("#sched-cron")).to_have_attribute("aria-invalid", "true")
    schedules.get_by_label("Cron (five fields)").fill("0 8 * * MON")
    page.get_by_role("button", name="Create schedule").click()
    expect(page.locator("tr[data-schedule='weekly-summary']")).to_contain_text("scan_summary / csv")
    expect(page.locator("#schedule-form-error")).to_be_hidden()
    listed = client.get("/api/v1/schedules").json()["items"]
    assert [s["name"] for s in listed] == ["weekly-summary"]
    page.screenshot(path=str(SHOTS / "console-schedules.png"), full_page=True)
    weekly = page.locator("tr[data-schedule='weekly-summary']")
    weekly.get_by_role("button", name="Pause schedule weekly-summary").click()
    expect(weekly.locator("[data-role=next-run]")).to_have_text("paused")
    page.once("dialog", lambda dialog: dialog.dismiss())  # deleting asks first; "no" keeps it
    weekly.get_by_role("button", name="Delete schedule weekly-summary").click()
    expect(weekly).to_be_visible()
    assert [s["name"] for s in client.get("/api/v1/schedules").json()["items"]] == ["weekly-summary"]

    # Verify a sealed bundle by upload; a tampered copy is refused with the reason.
    link = client.get(f"/api/v1/exports/{bundle_id}/download").json()
    bundle = tmp_path / link["artifact"]
    bundle.write_bytes(httpx.get(link["download_url"]).content)
    page.get_by_role("button", name="Verify bundle").click()
    page.get_by_label("Bundle", exact=True).set_input_files(str(bundle))
    page.get_by_role("button", name="Verify", exact=True).click()
    expect(page.locator("#verify-result")).to_contain_text("is intact and correctly sealed")
    page.screenshot(path=str(SHOTS / "console-verify.png"), full_page=True)
    tampered = tmp_path / ("tampered-" + bundle.name)
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0x01
    tampered.write_bytes(bytes(data))
    page.get_by_label("Bundle", exact=True).set_input_files(str(tampered))
    page.get_by_role("button", name="Verify", exact=True).click()
    expect(page.locator("#verify-error")).to_contain_text("Verification failed")
    expect(page.locator("#verify-result")).to_be_hidden()

    assert page.evaluate("window.__noReload") == "still here"
    origin = console_server.url.split("://", 1)[1]
    foreign = [u for u in requested if not u.startswith(("data:", f"http://{origin}/", f"ws://{origin}/"))]
    assert foreign == []  # no CDN, no third party: everything comes from the server itself
    assert errors == [] or all("422" in e or "400" in e for e in errors), errors
    context.close()


def test_console_keyboard_and_refused_token(console_server: Server, browser: object) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(console_server.url + "/console")
    page.get_by_label("Token").fill("not-a-token")
    page.get_by_label("Tenant").fill("acme")
    page.keyboard.press("Tab")  # to the Sign in button, then Enter: no mouse needed
    assert page.evaluate("document.activeElement.textContent") == "Sign in"
    page.keyboard.press("Enter")
    expect(page.locator("#signin-error")).to_contain_text("not a valid token")
    expect(page.locator("#signin-token")).to_be_focused()
    assert page.evaluate("sessionStorage.length") == 0
    headers = httpx.get(console_server.url + "/console").headers
    assert "default-src 'self'" in headers["content-security-policy"]
    assert httpx.get(console_server.url + "/console/..%2Fapi%2Fapp.py").status_code == 404
    page.close()


def test_console_signed_out_and_tenant_switch(console_server: Server, browser: object) -> None:
    """Signed out only the sign-in form shows; a refused token leaves no tenant behind; signing out and
    pasting another tenant's token switches the tenant."""
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(console_server.url + "/console#schedules")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    for hidden in ("#nav", "#who", "#live", "#sign-out", "#view-schedules", "#view-exports"):
        expect(page.locator(hidden)).to_be_hidden()
    page.evaluate("document.querySelector('#nav button[data-view=schedules]').click()")  # even if reached
    expect(page.locator("#view-schedules")).to_be_hidden()
    expect(page.locator("#view-signin")).to_be_visible()

    expired = console_server.token("acme", ttl=-3600)
    page.get_by_label("Token").fill(expired)
    expect(page.get_by_label("Tenant")).to_have_value("acme")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signin-error")).to_contain_text("Sign-in failed")
    expect(page.get_by_text("Tenant: acme")).to_have_count(0)
    expect(page.locator("#who")).to_be_hidden()

    sign_in(page, console_server, "acme")
    expect(page.locator("#who-tenant")).to_have_text("Tenant: acme")
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#nav")).to_be_hidden()
    expect(page.get_by_label("Tenant")).to_have_value("")
    expect(page.get_by_label("Token")).to_have_value("")
    page.get_by_label("Token").fill(console_server.token("globex"))
    expect(page.get_by_label("Tenant")).to_have_value("globex")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#who-tenant")).to_have_text("Tenant: globex")
    assert page.evaluate("JSON.parse(sessionStorage.getItem('exportcenter.console.session')).tenant") == "globex"
    assert errors == [], errors
    page.close()


def test_console_manifest_on_localhost(console_server: Server, browser: object) -> None:
    """Opened at localhost while the server's public base URL says 127.0.0.1: the manifest and downloads
    are fetched from the page's own origin (the CSP allows only 'self')."""
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    client = console_server.client("localtenant")
    scan_id = upload(client, SMALL_SCAN)
    export_id = client.post("/api/v1/exports", json={"type": "scan_report", "format": "json",
                                                     "scope": {"scan_ids": [scan_id]}}).json()["export_id"]
    wait_status(client, export_id, {"completed"})
    base = f"http://localhost:{console_server.port}"
    context = browser.new_context(viewport={"width": 1366, "height": 820}, accept_downloads=True)
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    sign_in(page, console_server, "localtenant", base=base)
    page.locator(f"tr[data-export-id='{export_id}'] button.rowlink").click()
    expect(page.locator("#detail-manifest")).to_contain_text('"sha256"', timeout=10_000)
    assert json.loads(page.locator("#detail-manifest").inner_text())["export_id"] == export_id
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download report.json").click()
    assert download_info.value.failure() is None
    assert [u for u in requested if "127.0.0.1" in u] == []
    context.close()


def test_console_delivery_retrying(console_server: Server, browser: object) -> None:
    """A webhook to a closed port: the list and the detail say "retrying", the receipt gives the next
    retry, and the live region announces the delivery, not "completed"."""
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    client = console_server.client("retrier")
    scan_id = upload(client, SMALL_SCAN)
    page = browser.new_page(viewport={"width": 1366, "height": 820})
    sign_in(page, console_server, "retrier")
    hook = f"http://127.0.0.1:{free_port()}/hook"
    export_id = client.post("/api/v1/exports", json={
        "type": "scan_report", "format": "json", "scope": {"scan_ids": [scan_id]},
        "delivery": {"method": "webhook", "config": {"url": hook, "secret": "s3cret"}}}).json()["export_id"]
    row = page.locator(f"tr[data-export-id='{export_id}']")
    row.locator("button.rowlink").click()
    expect(row.locator("[data-role=delivery]")).to_have_text("retrying", timeout=20_000)
    expect(page.locator("#announce")).to_contain_text(f"Export {export_id} delivery retrying")
    expect(page.locator("#announce")).not_to_contain_text("completed")
    receipt = page.locator("#detail-deliveries .receipt[data-attempt='1']")
    expect(receipt).to_contain_text("webhook · attempt 1 · retrying")
    expect(receipt.locator("[data-role=next-retry]")).to_contain_text("Next retry: 20")
    expect(page.locator("#detail-facts [data-fact=delivery]")).to_have_text("retrying")
    page.close()
