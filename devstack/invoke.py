"""Run one of app.py's non-HTTP functions in this process, against the running ``make run`` stack.

``chalice local`` serves routes only, and the pump runs only the stream, queue and schedule handlers;
a function that AWS invokes directly (Amazon Connect's contact flow function) or through an EventBridge
rule has no local trigger. ``./hub simulate connect`` therefore imports app.py here, with the
environment ``make run`` gives its own processes (the embedded AWS at ``AWS_ENDPOINT_URL``, stage
local, the development secrets), and calls the function as Lambda would: ``handler(event, context)``.
What it writes lands in the same embedded AWS, so the pump of ``make run`` carries it on.
"""

from __future__ import annotations

import os
import sys
from typing import Any
from urllib.parse import urlsplit

from devstack.local_aws import LOCAL_AWS_ENDPOINT
from devstack.run import ROOT, local_environment


def _port(url: str, default: int) -> int:
    return urlsplit(url).port or default


def invoke_app_function(name: str, event: Any) -> Any:
    """``app.<name>(event, None)`` in this process, on the local stack's embedded AWS."""
    hub = os.environ.get("OMNIHUB_URL", "http://127.0.0.1:8000")
    aws = os.environ.get("AWS_ENDPOINT_URL") or LOCAL_AWS_ENDPOINT
    os.environ.update(local_environment(_port(hub, 8000), _port(aws, 4566)))
    sys.path.insert(0, str(ROOT))
    import app as app_module

    return getattr(app_module, name)(event, None)
