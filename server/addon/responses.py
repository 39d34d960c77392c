"""Response envelopes for add-on endpoints.

Triggers (homepage, Gmail contextual, Calendar eventOpen) answer ``{"action": ...}``; widget
callbacks answer ``{"renderActions": {"action": ...}}``. See "Create JSON response objects" in
https://developers.google.com/workspace/add-ons/guides/alternate-runtimes and
https://developers.google.com/workspace/add-ons/how-tos/navigation
"""

from __future__ import annotations

from typing import Any

from .widgets import clip

Json = dict[str, Any]


def trigger_response(card: Json) -> Json:
    """Answer a trigger by showing ``card`` (the root of the trigger's card stack)."""
    return {"action": {"navigations": [{"pushCard": card}]}}


def _render(action: Json) -> Json:
    return {"renderActions": {"action": action}}


def _with_notice(action: Json, notification: str | None) -> Json:
    if notification:
        # Notification text is plain text, no HTML.
        action["notification"] = {"text": clip(notification, 200)}
    return action


def push_card(card: Json, notification: str | None = None) -> Json:
    """Callback answer: drill down to ``card`` (the back arrow returns to the current one)."""
    return _render(_with_notice({"navigations": [{"pushCard": card}]}, notification))


def update_card(card: Json, notification: str | None = None) -> Json:
    """Callback answer: replace the current card with ``card`` (a state change)."""
    return _render(_with_notice({"navigations": [{"updateCard": card}]}, notification))


def pop_to_root(card: Json | None = None, notification: str | None = None) -> Json:
    """Callback answer: back to the root card, replacing it with ``card`` when given."""
    navigations: list[Json] = [{"popToRoot": True}]
    if card is not None:
        navigations.append({"updateCard": card})
    return _render(_with_notice({"navigations": navigations}, notification))


def open_link(url: str, notification: str | None = None) -> Json:
    """Answer an ``openDynamicLinkAction``: open ``url`` in a new tab, the sidebar stays."""
    return _render(_with_notice({"link": {"url": url, "openAs": "FULL_SIZE"}}, notification))


def notify(text: str) -> Json:
    """Callback answer: only a toast, the card stays as it is."""
    return _render(_with_notice({}, text))


def open_link_and_update(url: str, card: Json, notification: str | None = None) -> Json:
    """Answer an ``openDynamicLinkAction``: open ``url`` in a new tab and replace the current
    card with ``card`` (A5: "Started hh:mm" shows right away)."""
    action = {"link": {"url": url, "openAs": "FULL_SIZE"}, "navigations": [{"updateCard": card}]}
    return _render(_with_notice(action, notification))
