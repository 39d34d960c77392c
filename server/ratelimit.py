"""Rate limits (Flask-Limiter) on what anyone can call without a token: sign-in, the OAuth
callbacks and the push webhooks. Counted per client address, in the queue's Redis when
``QUEUE_URL`` names one (so every web process shares the counts), else in each process.

The webhook limit is generous: a provider sends bursts from few addresses, and a refused
notification is a lost one; it is there to stop a flood, not to shape traffic.
"""

from __future__ import annotations

from typing import cast

from flask import Blueprint, Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from server.config import Settings

SIGN_IN = "30/minute;300/hour"
OAUTH = "30/minute;300/hour"


def install(app: Flask, settings: Settings) -> Limiter:
    redis = settings.queue_url.startswith(("redis://", "rediss://"))
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=settings.queue_url if redis else "memory://",
        key_prefix="ratelimit",
        headers_enabled=True,
        strategy="moving-window",
    )
    limits = {
        "settings_signin": SIGN_IN,
        "calendar_oauth": OAUTH,
        "calendar_webhooks": settings.webhook_rate_limit,
    }
    for name, limit in limits.items():
        blueprint = app.blueprints.get(name)
        if blueprint is not None:
            limiter.limit(limit)(cast(Blueprint, blueprint))
    return limiter
