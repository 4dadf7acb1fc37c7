"""The browser of the browser tests: Debian's `chromium` (/usr/bin/chromium) or, on Ubuntu where
that package is a snap, Playwright's own build (`playwright install chromium`); scripts/test-services
installs one of them. Never skipped: no browser is a failure that says how to get one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.async_api import Browser, Error, Playwright

SYSTEM_CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


async def launch_chromium(playwright: Playwright) -> Browser:
    executable = str(SYSTEM_CHROMIUM) if os.access(SYSTEM_CHROMIUM, os.X_OK) else None
    try:
        return await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
    except Error as exc:
        pytest.fail(
            f"no Chromium: neither {SYSTEM_CHROMIUM} (Debian: apt-get install chromium) nor Playwright's "
            f"(Ubuntu: playwright install chromium); scripts/test-services installs one. {exc}",
            pytrace=False,
        )
