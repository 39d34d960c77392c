"""A test double for Google's sidebar host: builds event objects, signs the tokens with the
Google stand-in's key, POSTs them to the add-on routes over HTTP (Flask test client), and checks
every answer with ``cardcheck`` before handing it back. Clicking a card widget posts the action
it names, so flows run the way a rep clicks through them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from server.addon import paths, scopes
from server.stand_ins.google import GoogleStandIn

from ..cardcheck import cards_in, check_response

BASE_URL = "https://addon.example.com"
SERVICE_ACCOUNT = "service-42@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"
CLIENT_ID = "42-addon.apps.googleusercontent.com"
GMAIL_TOKEN = "gmail-message-token-0123456789"
Json = dict[str, Any]
_DEFAULT = object()


@dataclass
class Sidebar:
    """One rep's sidebar. ``answers`` keeps every JSON answer (each already card-checked)."""

    client: FlaskClient
    google: GoogleStandIn
    email: str
    time_zone: str = "Europe/Berlin"
    locale: str = "en-GB"
    granted: tuple[str, ...] = scopes.DESCRIPTOR_SCOPES
    answers: list[Json] = field(default_factory=list)

    # -- the event object ------------------------------------------------------------------

    def event(
        self,
        host: str = "CALENDAR",
        *,
        parameters: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
        calendar: Json | None = None,
        gmail: Json | None = None,
        user_id_token: Any = _DEFAULT,
        oauth_token: Any = _DEFAULT,
        granted: tuple[str, ...] | None = None,
    ) -> Json:
        zone = ZoneInfo(self.time_zone)
        offset = datetime.now(zone).utcoffset()
        common: Json = {
            "hostApp": host,
            "platform": "WEB",
            "timeZone": {"id": self.time_zone, "offset": int(offset.total_seconds() * 1000)}
            if offset is not None
            else {"id": self.time_zone},
            "userLocale": self.locale,
        }
        if parameters:
            common["parameters"] = parameters
        if form:
            common["formInputs"] = {k: {"stringInputs": {"value": [v]}} for k, v in form.items()}
        granted = self.granted if granted is None else granted
        auth: Json = {
            "userOAuthToken": self.google.user_access_token(self.email, list(granted))
            if oauth_token is _DEFAULT
            else oauth_token,
            "authorizedScopes": list(granted),
        }
        if user_id_token is _DEFAULT:
            user_id_token = self.google.id_token_for(audience=CLIENT_ID, email=self.email)
        if user_id_token is not None:
            auth["userIdToken"] = user_id_token
        if auth["userOAuthToken"] is None:
            del auth["userOAuthToken"]
        body: Json = {"commonEventObject": common, "authorizationEventObject": auth}
        if calendar is not None:
            body["calendar"] = calendar
        if gmail is not None:
            body["gmail"] = gmail
        return body

    def system_token(self, path: str, **claims: Any) -> str:
        return self.google.id_token_for(audience=BASE_URL + path, email=SERVICE_ACCOUNT, **claims)

    # -- posting ------------------------------------------------------------------------------

    def raw(self, path: str, body: Any, authorization: Any = _DEFAULT) -> TestResponse:
        headers = {}
        if authorization is _DEFAULT:
            authorization = f"Bearer {self.system_token(path)}"
        if authorization is not None:
            headers["Authorization"] = authorization
        return self.client.post(path, json=body, headers=headers)

    def post(self, path: str, body: Json | None = None, **event: Any) -> Json:
        """POST ``path``, expect 200 and a well-formed answer; returns the JSON."""
        response = self.raw(path, body if body is not None else self.event(**event))
        assert response.status_code == 200, response.get_data(as_text=True)
        answer: Json = response.get_json()
        kind = "trigger" if path in paths.TRIGGER_PATHS else "callback"
        check_response(answer, BASE_URL, kind)
        self.answers.append(answer)
        return answer

    def home(self) -> Json:
        return only_card(self.post(paths.HOME))

    def open_event(self, event_id: str | None) -> Json:
        calendar = {"id": event_id, "calendarId": self.email} if event_id else {}
        return only_card(self.post(paths.CALENDAR_EVENT, calendar=calendar))

    def click(self, on_click: Json, *, form: dict[str, str] | None = None, **event: Any) -> Json:
        """Run the action of an ``onClick`` (or ``openDynamicLinkAction``) from a card."""
        action = on_click.get("action") or on_click.get("openDynamicLinkAction") or on_click
        function = action["function"]
        assert function.startswith(BASE_URL + "/"), function
        path = function[len(BASE_URL) :]
        parameters = {p["key"]: p["value"] for p in action.get("parameters", [])}
        return self.post(path, parameters=parameters, form=form, **event)


# --------------------------------------------------------------------------- reading cards


def only_card(answer: Json) -> Json:
    found = cards_in(answer)
    assert len(found) == 1, answer
    return found[0]


def widgets(card: Json) -> Iterator[Json]:
    for section in card.get("sections", []):
        yield from section.get("widgets", [])


def texts(card: Json) -> str:
    """Every text of the card, one per line (headers, labels, paragraphs, buttons)."""
    out = [card["header"]["title"], card["header"].get("subtitle", "")]
    for section in card.get("sections", []):
        out.append(section.get("header", ""))
        for widget in section.get("widgets", []):
            out += _widget_texts(widget)
    footer = card.get("fixedFooter", {})
    out += [b["text"] for b in footer.values() if isinstance(b, dict)]
    return "\n".join(out)


def _widget_texts(widget: Json) -> list[str]:
    if "textParagraph" in widget:
        return [widget["textParagraph"]["text"]]
    if "decoratedText" in widget:
        d = widget["decoratedText"]
        out = [d.get("topLabel", ""), d["text"], d.get("bottomLabel", "")]
        return out + ([d["button"]["text"]] if "button" in d else [])
    if "buttonList" in widget:
        return [b["text"] for b in widget["buttonList"]["buttons"]]
    if "textInput" in widget:
        return [widget["textInput"].get("label", ""), widget["textInput"].get("value", "")]
    return []


def decorated(card: Json, contains: str) -> Json:
    """The first decoratedText whose text or labels contain ``contains``."""
    for widget in widgets(card):
        d = widget.get("decoratedText")
        if d and any(contains in d.get(k, "") for k in ("text", "topLabel", "bottomLabel")):
            return dict(d)
    raise AssertionError(f"no decoratedText with {contains!r} in {texts(card)}")


def button(card: Json, text: str) -> Json:
    """A button by its text: in a button list, a decoratedText, the footer or the menu."""
    for widget in widgets(card):
        for b in widget.get("buttonList", {}).get("buttons", []):
            if b["text"] == text:
                return dict(b)
        end = widget.get("decoratedText", {}).get("button")
        if end and end["text"] == text:
            return dict(end)
    for b in card.get("fixedFooter", {}).values():
        if isinstance(b, dict) and b.get("text") == text:
            return dict(b)
    for item in card.get("cardActions", []):
        if item["actionLabel"] == text:
            return {"text": text, "onClick": item["onClick"]}
    raise AssertionError(f"no button {text!r} in {texts(card)}")


def text_input(card: Json) -> Json:
    for widget in widgets(card):
        if "textInput" in widget:
            return dict(widget["textInput"])
    raise AssertionError("no text input")


def path_of(url: str) -> str:
    """``/path?query`` of an absolute URL, for the Flask test client."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")
