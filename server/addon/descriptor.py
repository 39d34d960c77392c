"""The HTTP deployment descriptor (``manifest.json``) and its rendering for a public base URL.

``manifest.json`` at the repository root is :func:`template` written out: every URL in it starts
with :data:`PLACEHOLDER_ORIGIN`, which :func:`render` replaces with ``PUBLIC_BASE_URL``.
Deploy with ``gcloud workspace-add-ons deployments create NAME --deployment-file=FILE``.
See https://developers.google.com/workspace/add-ons/guides/alternate-runtimes and
https://developers.google.com/workspace/add-ons/reference/rest/v1/projects.deployments

Usage: ``python -m server.addon.descriptor https://addon.example.com > deployment.json``
(no argument: the template, as committed in ``manifest.json``). A second argument names a JSON
file to render instead, e.g. ``appsscript/appsscript.json`` for its ``urlFetchWhitelist``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from . import paths, scopes

PLACEHOLDER_ORIGIN = "https://PUBLIC_BASE_URL"
#: A Google-hosted Material icon, so the server serves no static files for the add-on.
LOGO_URL = "https://www.gstatic.com/images/icons/material/system/2x/event_available_black_48dp.png"

#: Hosts an ``openLink`` may go to, besides our own origin: Meet, and the Calendar event page
#: (Calendar's ``htmlLink`` is on www.google.com/calendar/).
EXTERNAL_LINK_PREFIXES: tuple[str, ...] = (
    "https://meet.google.com/",
    "https://calendar.google.com/",
    "https://www.google.com/calendar/",
)


def _url(path: str) -> str:
    return paths.absolute(PLACEHOLDER_ORIGIN, path)


def template() -> dict[str, Any]:
    """The descriptor with :data:`PLACEHOLDER_ORIGIN` in every URL of ours.

    Gmail: homepage + unconditional contextual trigger. Calendar: homepage + eventOpen with
    ``currentEventAccess: READ`` (attendees and conference data in the event). Granular consent
    is opted in (required of every HTTP add-on since 2025-12-01).
    """
    return {
        "oauthScopes": list(scopes.DESCRIPTOR_SCOPES),
        "addOns": {
            "common": {
                "name": "Meeting Assistant",
                "logoUrl": LOGO_URL,
                "layoutProperties": {"primaryColor": "#1a73e8"},
                "useLocaleFromApp": True,
                "homepageTrigger": {"runFunction": _url(paths.HOME), "enabled": True},
                "openLinkUrlPrefixes": [PLACEHOLDER_ORIGIN + "/", *EXTERNAL_LINK_PREFIXES],
            },
            "gmail": {
                "homepageTrigger": {"runFunction": _url(paths.HOME), "enabled": True},
                "contextualTriggers": [
                    {"unconditional": {}, "onTriggerFunction": _url(paths.GMAIL_MESSAGE)}
                ],
            },
            "calendar": {
                "homepageTrigger": {"runFunction": _url(paths.HOME), "enabled": True},
                "eventOpenTrigger": {"runFunction": _url(paths.CALENDAR_EVENT)},
                "currentEventAccess": "READ",
            },
            "httpOptions": {
                "authorizationHeader": "SYSTEM_ID_TOKEN",
                "granularOauthPermissionSupport": "OPT_IN",
            },
        },
    }


def _replace(value: Any, origin: str) -> Any:
    if isinstance(value, str):
        if value == PLACEHOLDER_ORIGIN or value.startswith(PLACEHOLDER_ORIGIN + "/"):
            return origin + value[len(PLACEHOLDER_ORIGIN) :]
        return value
    if isinstance(value, list):
        return [_replace(v, origin) for v in value]
    if isinstance(value, dict):
        return {k: _replace(v, origin) for k, v in value.items()}
    return value


def render(public_base_url: str, descriptor: dict[str, Any] | None = None) -> dict[str, Any]:
    """The descriptor (default :func:`template`) with its placeholder origin replaced.

    ``public_base_url`` must be an origin with an optional path prefix, without query or
    fragment; Google only calls https URLs, but http is allowed here for local previews.
    """
    base = public_base_url.rstrip("/")
    if not base.startswith(("https://", "http://")) or "?" in base or "#" in base:
        raise ValueError(f"not a base URL: {public_base_url!r}")
    rendered: dict[str, Any] = _replace(descriptor or template(), base)
    return rendered


def main(argv: list[str] | None = None) -> int:
    """Print the descriptor rendered for ``argv[0]`` (the template with no argument).

    With a second argument, render that JSON file instead of the template.
    """
    args = sys.argv[1:] if argv is None else argv
    source: dict[str, Any] | None = None
    if len(args) > 1:
        source = json.loads(Path(args[1]).read_text(encoding="utf-8"))
    document = render(args[0], source) if args else template()
    if args and not args[0].startswith("https://"):
        print("warning: Google only calls https endpoints", file=sys.stderr)
    print(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
