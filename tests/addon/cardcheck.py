"""Check card JSON and add-on responses: the google.apps.card.v1 proto plus our own rules.

The proto (``json_format.ParseDict``, unknown fields not ignored) catches misspelled keys, bad
enum values, two members of a oneof and non-string parameters. It accepts an empty card, a
footer without a button, any ``function`` string and any widget count, so the rules below add:

- a non-empty header title;
- every ``action.function`` (onClick, openDynamicLinkAction, onChangeAction, ...) is
  ``public_base_url`` + one of the add-on action paths;
- every ``openLink`` url is under ``public_base_url`` or an https Meet / Calendar page;
- a ``fixedFooter`` has a primary button;
- at most 100 sections, 100 widgets per section and 100 widgets per card;
- no ``interaction`` (OPEN_DIALOG strips the whole card in add-ons).

``check_response`` walks the ``action`` / ``renderActions`` envelopes (which have no proto).
See https://developers.google.com/workspace/add-ons/guides/alternate-runtimes
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal
from urllib.parse import urlsplit

from google.apps import card_v1
from google.protobuf import json_format

from server.addon import paths
from server.addon.descriptor import EXTERNAL_LINK_PREFIXES

MAX_SECTIONS = 100
MAX_WIDGETS_PER_SECTION = 100
MAX_WIDGETS_PER_CARD = 100
_NAVIGATION_KEYS = {"pushCard", "updateCard", "popToRoot", "pop", "popToCard"}


class CardError(AssertionError):
    """A card or response breaks the schema or one of our rules."""


def _walk(value: Any, where: str = "") -> Iterator[tuple[str, str, Any]]:
    """Yield (path, key, value) for every key of every dict inside ``value``."""
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{where}.{key}" if where else key
            yield here, key, item
            yield from _walk(item, here)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{where}[{index}]")


def _check_function(function: Any, base: str, where: str) -> None:
    if not isinstance(function, str):
        raise CardError(f"{where}: function must be a string")
    if not function.startswith(base + "/"):
        raise CardError(f"{where}: function {function!r} is not under {base}")
    if function[len(base) :] not in paths.ACTION_PATHS:
        raise CardError(f"{where}: function {function!r} is not an add-on action path")


def check_link(url: Any, public_base_url: str, where: str = "openLink") -> None:
    """An opened URL must be ours or an https Google Meet / Calendar page."""
    base = public_base_url.rstrip("/")
    if not isinstance(url, str) or not url:
        raise CardError(f"{where}: url missing")
    if url.startswith(base + "/"):
        return
    if urlsplit(url).scheme != "https" or not url.startswith(EXTERNAL_LINK_PREFIXES):
        raise CardError(f"{where}: url {url!r} is neither ours nor a Meet/Calendar https page")


def check_card(card: dict[str, Any], public_base_url: str) -> None:
    """Raise :class:`CardError` unless ``card`` parses as a ``Card`` and follows our rules."""
    base = public_base_url.rstrip("/")
    try:
        json_format.ParseDict(card, card_v1.Card.pb()(), ignore_unknown_fields=False)
    except json_format.ParseError as exc:
        raise CardError(f"not a google.apps.card.v1.Card: {exc}") from exc
    title = card.get("header", {}).get("title")
    if not isinstance(title, str) or not title.strip():
        raise CardError("header.title must be non-empty")
    sections = card.get("sections", [])
    if not sections:
        raise CardError("a card needs at least one section")
    if len(sections) > MAX_SECTIONS:
        raise CardError(f"{len(sections)} sections (max {MAX_SECTIONS})")
    total = 0
    for index, section in enumerate(sections):
        widgets = section.get("widgets", [])
        if not widgets:
            raise CardError(f"sections[{index}] has no widgets")
        if len(widgets) > MAX_WIDGETS_PER_SECTION:
            raise CardError(f"sections[{index}]: {len(widgets)} widgets")
        for w_index, widget in enumerate(widgets):
            if not widget:
                raise CardError(f"sections[{index}].widgets[{w_index}] is empty")
        total += len(widgets)
    if total > MAX_WIDGETS_PER_CARD:
        raise CardError(f"{total} widgets in one card (max {MAX_WIDGETS_PER_CARD})")
    footer = card.get("fixedFooter")
    if footer is not None and not footer.get("primaryButton"):
        raise CardError("fixedFooter needs a primaryButton")
    for where, key, value in _walk(card):
        if key in ("action", "openDynamicLinkAction", "onChangeAction", "autoCompleteAction"):
            _check_function(value.get("function"), base, where)
            if "interaction" in value:
                raise CardError(f"{where}: interaction is not for add-ons")
        elif key == "openLink":
            check_link(value.get("url"), base, where)


def _check_navigations(navigations: Any, base: str, where: str) -> None:
    if not isinstance(navigations, list) or not navigations:
        raise CardError(f"{where}.navigations must be a non-empty list")
    for index, nav in enumerate(navigations):
        here = f"{where}.navigations[{index}]"
        if not isinstance(nav, dict) or len(nav) != 1 or not set(nav) <= _NAVIGATION_KEYS:
            raise CardError(f"{here}: exactly one of {sorted(_NAVIGATION_KEYS)}")
        ((key, value),) = nav.items()
        if key in ("pushCard", "updateCard"):
            check_card(value, base)
        elif key in ("popToRoot", "pop") and value is not True:
            raise CardError(f"{here}.{key} must be true")


def _check_action(action: Any, base: str, where: str) -> None:
    if not isinstance(action, dict) or not action:
        raise CardError(f"{where} must be a non-empty object")
    unknown = set(action) - {"navigations", "link", "notification"}
    if unknown:
        raise CardError(f"{where}: unknown keys {sorted(unknown)}")
    if "navigations" in action:
        _check_navigations(action["navigations"], base, where)
    if "link" in action:
        check_link(action["link"].get("url"), base, f"{where}.link")
    if "notification" in action:
        text = action["notification"].get("text")
        if not isinstance(text, str) or not text or "<" in text:
            raise CardError(f"{where}.notification.text must be non-empty plain text")


def check_response(
    resp: dict[str, Any],
    public_base_url: str,
    kind: Literal["trigger", "callback", "any"] = "any",
) -> None:
    """Check an endpoint's answer and every card in it.

    Triggers answer ``{"action": {"navigations": [...]}}``; callbacks answer
    ``{"renderActions": {"action": {...}}}``; either may answer a scope request.
    """
    base = public_base_url.rstrip("/")
    if set(resp) == {"requesting_google_scopes"}:
        scopes = resp["requesting_google_scopes"].get("scopes")
        if not (isinstance(scopes, list) and scopes and all(isinstance(s, str) for s in scopes)):
            raise CardError("requesting_google_scopes.scopes must be a non-empty list")
        return
    if "action" in resp and kind in ("trigger", "any"):
        if set(resp) != {"action"}:
            raise CardError(f"trigger response has extra keys {sorted(set(resp) - {'action'})}")
        if set(resp["action"]) != {"navigations"}:
            raise CardError("trigger response action must only navigate")
        _check_navigations(resp["action"]["navigations"], base, "action")
        return
    if "renderActions" in resp and kind in ("callback", "any"):
        if set(resp) != {"renderActions"}:
            raise CardError("callback response has extra keys")
        render = resp["renderActions"]
        if set(render) - {"action", "hostAppAction", "stateChanged"}:
            raise CardError("renderActions has unknown keys")
        _check_action(render.get("action"), base, "renderActions.action")
        return
    raise CardError(f"not a {kind} response: keys {sorted(resp)}")


def cards_in(resp: dict[str, Any]) -> list[dict[str, Any]]:
    """Every card pushed or updated by a response, in order."""
    action = resp.get("action") or resp.get("renderActions", {}).get("action", {})
    return [
        nav.get("pushCard") or nav["updateCard"]
        for nav in action.get("navigations", [])
        if "pushCard" in nav or "updateCard" in nav
    ]
