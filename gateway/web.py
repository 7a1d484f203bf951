"""The web workbench's built files: ``web/dist`` (``./bpc`` builds it from ``web/`` with npm at
build time; nothing is fetched at run time). ``index.html`` at ``/`` (revalidated on every
load), the content-hashed bundles under ``/assets/`` (cached for a year). Every other path
is the API's. ``BPC_WEB_DIR`` points elsewhere (the container image)."""

from __future__ import annotations

import mimetypes
import os
from functools import lru_cache
from pathlib import Path

from werkzeug.wrappers import Response

# the page runs only its own bundle; ECharts and the app set inline styles on elements
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'"
)
TEXT = {"text/html", "text/css", "text/javascript", "application/javascript", "application/json"}


def web_dir() -> Path:
    configured = os.environ.get("BPC_WEB_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[1] / "web" / "dist"


@lru_cache(maxsize=256)
def _read(path: Path, mtime: float) -> bytes:  # mtime: a rebuilt file is read again
    return path.read_bytes()


def static_response(path: str, method: str) -> Response | None:
    """The built file for a GET or HEAD of ``path`` (without its leading slash), or None when
    the path is not the web app's (the API answers it, 404 JSON included)."""
    if method not in ("GET", "HEAD"):
        return None
    if path in ("", "index.html"):
        file, cache = web_dir() / "index.html", "no-cache"
    elif "\x00" in path:  # no file has it in its name: the API's 404
        return None
    elif path.startswith("assets/") and path.count("/") == 1 and ".." not in path:
        file, cache = web_dir() / path, "public, max-age=31536000, immutable"
    else:  # (every API request: decided before the web's folder is looked up)
        return None
    try:
        body = _read(file, file.stat().st_mtime)
    except OSError:  # not built (./bpc builds it when npm is there): the API's 404
        return None
    mimetype = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    content_type = f"{mimetype}; charset=utf-8" if mimetype in TEXT else mimetype
    response = Response(
        b"" if method == "HEAD" else body,
        content_type=content_type,
        headers={"Cache-Control": cache},
    )
    return secured(response)


def secured(response: Response) -> Response:
    """Every answer of the gateway: never sniffed into another type; an HTML one (the page,
    the handbook) runs nothing but its own files and is framed by no one."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
    return response
