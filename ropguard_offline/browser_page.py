"""Serves the sample login page (``examples/browser/``) on its own loopback port, pointed at an API.

The page's ``config.js`` is generated with the API's base URL; every other file is served as it is
in the repository, and nothing outside the page's own files (no listing, no other path). The
answers carry a Content-Security-Policy that lets the page's script talk to its API only, as a
deployed app's would.

The page runs on ``http://localhost:<port>``: browsers treat ``localhost`` as a secure context,
so the API's ``Secure; __Host-`` cookie works there over plain http, and ``localhost`` on another
port is the same site as an API on ``http://localhost:<api port>`` (a site is scheme and host,
never the port), so ``SameSite=Strict`` lets the cookie through. ``127.0.0.1`` would be another
site: the browser tests use it to play a page on someone else's site.

    python -m ropguard_offline.browser_page --api-url http://localhost:3000  (--port or ROPGUARD_PAGE_PORT)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

LOG = logging.getLogger(__name__)

PAGE_DIRECTORY = Path(__file__).resolve().parents[1] / "examples" / "browser"
DEFAULT_PORT = 3002
PORT_VARIABLE = "ROPGUARD_PAGE_PORT"
#: The page's address in a browser (see the module's docstring for why not 127.0.0.1).
PAGE_HOST = "localhost"
LOOPBACK = "127.0.0.1"
CONFIG_FILE = "config.js"
#: The page's files and their types; anything else is 404.
FILES: Mapping[str, str] = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
    CONFIG_FILE: "text/javascript; charset=utf-8",
}


def config_script(api_url: str) -> bytes:
    """``config.js`` for an API at ``api_url`` (JSON-encoded: a URL never becomes script)."""
    return f"window.ROPGUARD_CONFIG = {json.dumps({'apiBaseUrl': api_url})};\n".encode()


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL: what CSP's connect-src and CORS compare."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def localhost_url(url: str) -> str:
    """A loopback URL as ``localhost``: the page's own host, so page and API are one site."""
    parts = urlsplit(url)
    if parts.hostname not in (LOOPBACK, PAGE_HOST):
        return url
    return f"{parts.scheme}://{PAGE_HOST}:{parts.port}" if parts.port else f"{parts.scheme}://{PAGE_HOST}"


def security_headers(api_url: str) -> dict[str, str]:
    """What a deployed page should send too: its own files only, its API as the one place to call."""
    connect = origin_of(api_url) if api_url else "'self'"
    return {
        "Content-Security-Policy": (
            f"default-src 'self'; connect-src {connect}; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


class BrowserPage:
    """The page on ``host:port`` (0 picks a free port); ``api_url`` may be set after it started."""

    def __init__(
        self,
        api_url: str = "",
        *,
        host: str = LOOPBACK,
        port: int = DEFAULT_PORT,
        directory: Path = PAGE_DIRECTORY,
    ) -> None:
        self.api_url = api_url
        self.directory = directory
        page = self

        class Handler(_PageHandler):
            owner: ClassVar[BrowserPage] = page

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The page's address as a browser should open it."""
        return f"http://{PAGE_HOST}:{self.port}"

    @property
    def origin(self) -> str:
        return self.url

    def start(self) -> BrowserPage:
        self._thread = threading.Thread(target=self._server.serve_forever, name="browser-page", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> BrowserPage:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def answer(self, path: str) -> tuple[int, str, bytes]:
        """Status, content type and body for a GET of ``path``."""
        name = urlsplit(path).path.lstrip("/") or "index.html"
        if name not in FILES:
            return HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"not found\n"
        if name == CONFIG_FILE:
            return HTTPStatus.OK, FILES[name], config_script(self.api_url)
        return HTTPStatus.OK, FILES[name], (self.directory / name).read_bytes()


class _PageHandler(BaseHTTPRequestHandler):
    owner: ClassVar[BrowserPage]
    server_version = "ropguard-page"
    sys_version = ""

    def do_GET(self) -> None:
        status, content_type, body = self.owner.answer(self.path)
        self._send(status, content_type, body)

    def do_HEAD(self) -> None:
        status, content_type, body = self.owner.answer(self.path)
        self._send(status, content_type, body, head=True)

    def _send(self, status: int, content_type: str, body: bytes, *, head: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in security_headers(self.owner.api_url).items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug("page %s " + format, self.address_string(), *args)


def port_from_env(env: Mapping[str, str]) -> int:
    raw = env.get(PORT_VARIABLE, "").strip()
    return int(raw) if raw else DEFAULT_PORT


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] = os.environ) -> int:
    parser = argparse.ArgumentParser(prog="python -m ropguard_offline.browser_page", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--api-url", required=True, help="the API's base URL, e.g. http://localhost:3000")
    parser.add_argument("--host", default=LOOPBACK, help="address to listen on (default %(default)s)")
    parser.add_argument("--port", type=int, default=port_from_env(env), help=f"env {PORT_VARIABLE}")
    args = parser.parse_args(argv)
    try:
        page = BrowserPage(args.api_url, host=args.host, port=args.port)
    except OSError as exc:
        print(
            f"the page did not start on {args.host}:{args.port}: {exc.strerror} ({PORT_VARIABLE})",
            file=sys.stderr,
        )
        return 1
    with page:
        print(f"sample login page {page.url} -> API {page.api_url} (Ctrl-C stops it)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
