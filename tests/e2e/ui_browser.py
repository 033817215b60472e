"""Headless Chromium, driven by Playwright, for tests that use the Airflow UI as a person does.

The browser is Debian's ``chromium`` package (``scripts/setup.sh`` installs it): Playwright's own
browser downloads cannot be fetched on this project's machines, so Playwright only drives it.
Each browser gets a fresh profile directory and no network beyond what the page asks for.

Screenshots go to ``test-artifacts/browser/<test>/`` (ignored by git), numbered in step order,
so a failed run can be replayed by eye.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_ROOT = REPO_ROOT / "test-artifacts" / "browser"
CHROMIUM = Path(os.environ.get("AURORA_BLUEGREEN_CHROMIUM", "/usr/bin/chromium"))
# --headless is added by Playwright itself (headless=True).
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
# Long enough for a page of the UI on a busy 2-core machine; anything slower is a failure.
ACTION_TIMEOUT_MS = 20_000


def browser_missing() -> str | None:
    """Why no browser test can run here, or None when it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} not found (apt-get install -y chromium, or run scripts/setup.sh)"
    return None


class UiSession:
    """One logged-in browser tab on an Airflow UI, taking numbered screenshots."""

    def __init__(self, page: Any, base_url: str, screenshot_dir: Path) -> None:
        self.page = page
        self.base_url = base_url.rstrip("/")
        self.screenshot_dir = screenshot_dir
        self._shots = 0

    def screenshot(self, name: str, full_page: bool = False) -> Path:
        self._shots += 1
        path = self.screenshot_dir / f"{self._shots:02d}-{re.sub(r'[^A-Za-z0-9_-]+', '-', name)}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def log_in(self, username: str, password: str) -> None:
        """The simple auth manager's sign-in form, as a person fills it."""
        page = self.page
        page.goto(self.base_url + "/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        self.screenshot("sign-in")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: "/auth/login" not in url)

    def goto(self, path: str) -> None:
        self.page.goto(self.base_url + path)


@contextmanager
def ui_session(base_url: str, test_name: str) -> Iterator[UiSession]:
    """A fresh headless Chromium with one tab; screenshots under ``test-artifacts/browser/<test_name>``.

    On failure a last screenshot named ``failure`` shows the page as it was.
    """
    from playwright.sync_api import sync_playwright

    screenshot_dir = SCREENSHOT_ROOT / test_name
    shutil.rmtree(screenshot_dir, ignore_errors=True)
    screenshot_dir.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=list(CHROMIUM_ARGS),
            viewport={"width": 1400, "height": 1000},
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(ACTION_TIMEOUT_MS)
            session = UiSession(page, base_url, screenshot_dir)
            try:
                yield session
            except BaseException:
                # The screenshot must not hide the failure it documents.
                with contextlib.suppress(Exception):
                    session.screenshot("failure", full_page=True)
                raise
        finally:
            context.close()


def wait_until_settled(created_at: str) -> None:
    """Sleep until an approval request is old enough to answer.

    In Airflow 3.3.2 an answer within about a second of the task entering ``awaiting_input``
    races the scheduler and fails the task; the demo and the REST tests wait the same time.
    """
    from aurora_bluegreen.demo.airflow_rest import APPROVAL_SETTLE_SECONDS

    created = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    age = (datetime.now(timezone.utc) - created).total_seconds()
    if age < APPROVAL_SETTLE_SECONDS:
        time.sleep(APPROVAL_SETTLE_SECONDS - age)
