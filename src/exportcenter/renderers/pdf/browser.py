"""One warm headless Chromium per process, driven by Playwright on its own event-loop thread.

The browser starts on first use and is reused by every export; each export gets its own browser
context (cookies, storage, cache), so exports never see each other. Callers stay synchronous:
``BrowserHost.run(coro_factory, timeout)`` runs a coroutine on the browser's loop and waits for it,
which works from plain code, worker threads and from inside another asyncio loop's thread alike.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import TypeVar

from playwright.async_api import Browser, BrowserContext, Playwright, async_playwright

from exportcenter.errors import PdfTimeoutError, PdfUnavailableError

T = TypeVar("T")

LAUNCH_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
INSTALL_HINT = (
    "PDF export needs Chromium. Install it with `sudo apt-get install chromium fonts-dejavu-core "
    "fonts-noto-cjk fonts-noto-color-emoji fonts-noto-core` (or run scripts/install-system-packages.sh), "
    "or point EXPORTCENTER_CHROMIUM_PATH at a Chromium/Chrome binary. Other export formats are unaffected."
)


def find_chromium(configured: str | None = None) -> str:
    """The Chromium binary to use: the configured path, else the first one found on PATH."""
    if configured:
        path = Path(configured)
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
        raise PdfUnavailableError(f"Chromium not found at {configured!r}. {INSTALL_HINT}")
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    for fixed in ("/usr/bin/chromium", "/usr/lib/chromium/chromium", "/snap/bin/chromium"):
        if os.access(fixed, os.X_OK):
            return fixed
    raise PdfUnavailableError(f"Chromium was not found on this machine. {INSTALL_HINT}")


class BrowserHost:
    """A Playwright Chromium kept warm on a daemon thread."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pdf-browser", daemon=True)
        self._thread.start()
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._start_lock = asyncio.Lock()

    async def _ensure_browser(self) -> Browser:
        async with self._start_lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            try:
                if self._playwright is None:
                    self._playwright = await async_playwright().start()
                self._browser = await self._playwright.chromium.launch(
                    executable_path=self.executable, args=list(LAUNCH_ARGS), headless=True
                )
            except Exception as exc:  # Playwright raises its own Error types with install advice
                raise PdfUnavailableError(
                    f"Chromium at {self.executable} could not be started: {exc}. {INSTALL_HINT}"
                ) from exc
            return self._browser

    async def new_context(self) -> BrowserContext:
        """A fresh, isolated context: JavaScript off, no network (everything is inline)."""
        browser = await self._ensure_browser()
        context = await browser.new_context(java_script_enabled=False, offline=True)
        return context

    def run(self, work: Callable[[BrowserHost], Awaitable[T]], timeout: float) -> T:
        """Run ``work(self)`` on the browser loop; raise PdfTimeoutError after ``timeout`` seconds."""

        async def guarded() -> T:
            return await asyncio.wait_for(work(self), timeout=timeout)

        future = asyncio.run_coroutine_threadsafe(guarded(), self._loop)
        try:
            return future.result(timeout=timeout + 5.0)
        except (TimeoutError, FutureTimeout) as exc:
            future.cancel()
            raise PdfTimeoutError(f"PDF rendering exceeded its budget of {timeout:g} s") from exc

    def close(self) -> None:
        async def shutdown() -> None:
            if self._browser is not None:
                await self._browser.close()
            if self._playwright is not None:
                await self._playwright.stop()
            self._browser = None
            self._playwright = None

        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=30)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)


_hosts: dict[str, BrowserHost] = {}
_hosts_lock = threading.Lock()


def get_browser_host(chromium_path: str | None = None) -> BrowserHost:
    """The process-wide warm browser for that binary (started lazily, reused by every export)."""
    executable = find_chromium(chromium_path)
    with _hosts_lock:
        host = _hosts.get(executable)
        if host is None:
            host = BrowserHost(executable)
            _hosts[executable] = host
        return host


def shutdown_browsers() -> None:
    """Close every warm browser (worker shutdown, end of a test session)."""
    with _hosts_lock:
        hosts = list(_hosts.values())
        _hosts.clear()
    for host in hosts:
        host.close()
