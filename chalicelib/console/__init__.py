"""The crisis console: a static page shipped with the hub (no CDN, no build step), served by
``GET /console`` and ``GET /console/{asset}``.

Only files of this package with a known type are served, by exact name (nothing else on disk is
reachable). A new view (the feedback issue's "Reports") is one more file here, e.g. ``reports.js``,
that calls ``OmnihubConsole.registerView`` (see console.js) plus one ``<script>`` line in index.html.
"""

from __future__ import annotations

import re
from pathlib import Path

from chalice import Response

HERE = Path(__file__).resolve().parent
_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,60}\.(html|css|js|svg)$")
# The page talks only to its own origin and loads nothing from elsewhere.
_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
           "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def console_asset(name: str) -> Response:
    path = HERE / name
    if not _NAME.fullmatch(name or "") or not path.is_file():
        return Response(body='{"error": "not_found", "reason": "no such console file"}', status_code=404,
                        headers={"Content-Type": "application/json"})
    return Response(body=path.read_text(encoding="utf-8"), status_code=200, headers={
        "Content-Type": _TYPES[path.suffix], "Content-Security-Policy": _POLICY,
        "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache", "Referrer-Policy": "no-referrer",
    })
