"""The card checker itself: it must reject what Google would reject or mis-render."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from .cardcheck import CardError, check_card, check_response
from .conftest import BASE_URL

GOOD: dict[str, Any] = {
    "header": {"title": "Weekly sync", "subtitle": "Mon 10:00"},
    "sections": [
        {
            "widgets": [
                {"decoratedText": {"topLabel": "Organizer", "text": "a@example.com"}},
                {"divider": {}},
                {"textInput": {"name": "note", "label": "Notes", "type": "MULTIPLE_LINE"}},
                {
                    "buttonList": {
                        "buttons": [
                            {
                                "text": "Save",
                                "onClick": {
                                    "action": {
                                        "function": BASE_URL + "/addon/actions/add-note",
                                        "parameters": [{"key": "event_id", "value": "abc"}],
                                    }
                                },
                            }
                        ]
                    }
                },
            ]
        }
    ],
    "fixedFooter": {
        "primaryButton": {
            "text": "Open in Calendar",
            "onClick": {"openLink": {"url": "https://calendar.google.com/", "openAs": "FULL_SIZE"}},
        }
    },
}


def _button(card: dict[str, Any]) -> dict[str, Any]:
    button: dict[str, Any] = card["sections"][0]["widgets"][3]["buttonList"]["buttons"][0]
    return button


def test_good_card_passes() -> None:
    check_card(copy.deepcopy(GOOD), BASE_URL)


BREAKAGES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "misspelled field": (
        lambda c: c["sections"][0]["widgets"][0]["decoratedText"].update(txt="x"),
        'no field named "txt"',
    ),
    "misspelled widget": (
        lambda c: c["sections"][0]["widgets"].append({"decoratedTxt": {"text": "x"}}),
        'no field named "decoratedTxt"',
    ),
    "bad enum": (
        lambda c: c["sections"][0]["widgets"][2]["textInput"].update(type="MULTILINE"),
        "Invalid enum value MULTILINE",
    ),
    "two members of a oneof": (
        lambda c: c["sections"][0]["widgets"][0]["decoratedText"].update(
            button={"text": "b", "onClick": {"openLink": {"url": BASE_URL + "/x"}}},
            endIcon={"knownIcon": "STAR"},
        ),
        "oneof",
    ),
    "non-string parameter": (
        lambda c: _button(c)["onClick"]["action"]["parameters"].append(
            {"key": "flag", "value": True}
        ),
        "expected string",
    ),
    "no header": (lambda c: c.pop("header"), "header.title"),
    "blank title": (lambda c: c["header"].update(title="  "), "header.title"),
    "function name instead of URL": (
        lambda c: _button(c)["onClick"]["action"].update(function="saveNote"),
        "not under",
    ),
    "function on another host": (
        lambda c: _button(c)["onClick"]["action"].update(
            function="https://evil.example.com/addon/actions/add-note"
        ),
        "not under",
    ),
    "function on a lookalike host": (
        lambda c: _button(c)["onClick"]["action"].update(
            function=BASE_URL + ".evil.com/addon/actions/add-note"
        ),
        "not under",
    ),
    "function path not an action": (
        lambda c: _button(c)["onClick"]["action"].update(function=BASE_URL + "/addon/home"),
        "not an add-on action path",
    ),
    "dynamic link outside": (
        lambda c: (
            _button(c)["onClick"].update(
                {"openDynamicLinkAction": {"function": "https://evil.example.com/x"}}
            )
            or _button(c)["onClick"].pop("action")
        ),
        "not under",
    ),
    "interaction": (
        lambda c: _button(c)["onClick"]["action"].update(interaction="OPEN_DIALOG"),
        "interaction",
    ),
    "link to another site": (
        lambda c: c["fixedFooter"]["primaryButton"]["onClick"]["openLink"].update(
            url="https://evil.example.com/"
        ),
        "neither ours",
    ),
    "http link to Meet": (
        lambda c: c["fixedFooter"]["primaryButton"]["onClick"]["openLink"].update(
            url="http://meet.google.com/abc"
        ),
        "neither ours",
    ),
    "footer without button": (lambda c: c.update(fixedFooter={}), "primaryButton"),
    "no sections": (lambda c: c.update(sections=[]), "at least one section"),
    "empty section": (lambda c: c["sections"].append({"widgets": []}), "no widgets"),
    "empty widget": (lambda c: c["sections"][0]["widgets"].append({}), "is empty"),
    "too many widgets in a section": (
        lambda c: c["sections"][0]["widgets"].extend([{"divider": {}}] * 100),
        "widgets",
    ),
    "too many widgets in a card": (
        lambda c: c["sections"].extend([{"widgets": [{"divider": {}}] * 50}] * 2),
        "widgets in one card",
    ),
}


@pytest.mark.parametrize("name", sorted(BREAKAGES))
def test_checker_rejects(name: str) -> None:
    card = copy.deepcopy(GOOD)
    breakage, message = BREAKAGES[name]
    breakage(card)
    with pytest.raises(CardError, match=message):
        check_card(card, BASE_URL)


@pytest.mark.parametrize(
    ("resp", "kind", "message"),
    [
        ({"pushCard": GOOD}, "any", "not a any response"),
        ({"action": {"navigations": [{"pushCard": GOOD}]}}, "callback", "not a callback"),
        (
            {"renderActions": {"action": {"navigations": [{"pushCard": GOOD}]}}},
            "trigger",
            "not a trigger",
        ),
        ({"action": {"navigations": []}}, "trigger", "non-empty list"),
        ({"action": {"navigations": [{"pushCard": {"header": {}}}]}}, "trigger", "header.title"),
        (
            {"action": {"navigations": [{"pushCard": GOOD, "updateCard": GOOD}]}},
            "trigger",
            "exactly one",
        ),
        ({"action": {"navigations": [{"popCard": True}]}}, "trigger", "exactly one"),
        ({"renderActions": {"action": {}}}, "callback", "non-empty"),
        (
            {"renderActions": {"action": {"navigations": [{"popToRoot": "yes"}]}}},
            "callback",
            "true",
        ),
        (
            {"renderActions": {"action": {"notification": {"text": "<b>Saved</b>"}}}},
            "callback",
            "plain text",
        ),
        (
            {"renderActions": {"action": {"link": {"url": "https://evil.example.com"}}}},
            "callback",
            "neither ours",
        ),
        ({"renderActions": {"action": {"toast": {"text": "x"}}}}, "callback", "unknown keys"),
        ({"requesting_google_scopes": {"scopes": []}}, "any", "non-empty list"),
    ],
)
def test_response_checker_rejects(resp: dict[str, Any], kind: Any, message: str) -> None:
    with pytest.raises(CardError, match=message):
        check_response(copy.deepcopy(resp), BASE_URL, kind)
