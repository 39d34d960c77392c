"""The deployment descriptor (manifest.json) and the Apps Script project (appsscript/)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from google.cloud import gsuiteaddons_v1
from google.protobuf import json_format

from server.addon import descriptor, paths, scopes

ROOT = Path(__file__).resolve().parents[2]
BASE = "https://addon.example.com"


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return []


def _parse_deployment(document: dict[str, Any]) -> gsuiteaddons_v1.Deployment:
    """Parse with the Deployment proto, unknown fields not ignored.

    The pip proto predates ``httpOptions.granularOauthPermissionSupport`` (reference §6.3), so that
    one key is checked here and removed before parsing.
    """
    document = json.loads(json.dumps(document))
    http = document["addOns"]["httpOptions"]
    assert http.pop("granularOauthPermissionSupport") == "OPT_IN"
    message = gsuiteaddons_v1.Deployment.pb()()
    json_format.ParseDict(document, message, ignore_unknown_fields=False)
    deployment: gsuiteaddons_v1.Deployment = gsuiteaddons_v1.Deployment.wrap(message)
    return deployment


def test_manifest_json_is_the_template() -> None:
    assert json.loads((ROOT / "manifest.json").read_text()) == descriptor.template()


def test_rendered_descriptor_parses_as_a_deployment() -> None:
    deployment = _parse_deployment(descriptor.render(BASE))
    add_ons = deployment.add_ons
    assert add_ons.common.use_locale_from_app
    assert add_ons.calendar.current_event_access.name == "READ"
    assert add_ons.calendar.event_open_trigger.run_function == BASE + paths.CALENDAR_EVENT
    assert add_ons.gmail.contextual_triggers[0].on_trigger_function == BASE + paths.GMAIL_MESSAGE
    assert "unconditional" in add_ons.gmail.contextual_triggers[0]
    assert add_ons.http_options.authorization_header.name == "SYSTEM_ID_TOKEN"


def test_template_parses_too() -> None:
    _parse_deployment(descriptor.template())


def test_every_url_is_ours_or_an_allowed_link_prefix() -> None:
    rendered = descriptor.render(BASE + "/")
    urls = [s for s in _strings(rendered["addOns"]) if "://" in s]
    assert "PUBLIC_BASE_URL" not in json.dumps(rendered)
    add_ons = rendered["addOns"]
    triggers = [
        add_ons["common"]["homepageTrigger"]["runFunction"],
        add_ons["gmail"]["homepageTrigger"]["runFunction"],
        add_ons["gmail"]["contextualTriggers"][0]["onTriggerFunction"],
        add_ons["calendar"]["homepageTrigger"]["runFunction"],
        add_ons["calendar"]["eventOpenTrigger"]["runFunction"],
    ]
    assert {t[len(BASE) :] for t in triggers if t.startswith(BASE + "/")} == paths.TRIGGER_PATHS
    assert add_ons["common"]["logoUrl"] == descriptor.LOGO_URL
    assert descriptor.LOGO_URL.startswith("https://www.gstatic.com/")
    prefixes = add_ons["common"]["openLinkUrlPrefixes"]
    assert prefixes == [BASE + "/", *descriptor.EXTERNAL_LINK_PREFIXES]
    for url in urls:
        assert url.startswith("https://"), url
        ours = url.startswith(BASE + "/")
        assert ours or url in (*descriptor.EXTERNAL_LINK_PREFIXES, descriptor.LOGO_URL), url


def test_smallest_scopes() -> None:
    declared = descriptor.template()["oauthScopes"]
    assert declared == list(scopes.DESCRIPTOR_SCOPES)
    assert len(set(declared)) == len(declared)
    for broad in ("gmail.readonly", "gmail.modify", "calendar.readonly", "calendar.events"):
        assert f"https://www.googleapis.com/auth/{broad}" not in declared
    assert "https://www.googleapis.com/auth/calendar" not in declared
    for needed in (scopes.GMAIL_EXECUTE, scopes.CALENDAR_EXECUTE, scopes.USERINFO_EMAIL):
        assert needed in declared


def test_the_calendar_scope_is_accepted_by_the_api_calls_we_make() -> None:
    import googleapiclient.discovery_cache

    documents = Path(googleapiclient.discovery_cache.__file__).parent / "documents"
    calendar = json.loads((documents / "calendar.v3.json").read_text())
    for method in ("list", "get"):
        accepted = calendar["resources"]["events"]["methods"][method]["scopes"]
        assert scopes.CALENDAR_EVENTS_OWNED_READONLY in accepted
    gmail = json.loads((documents / "gmail.v1.json").read_text())
    accepted = gmail["resources"]["users"]["resources"]["messages"]["methods"]["get"]["scopes"]
    assert scopes.GMAIL_CURRENT_MESSAGE_METADATA in accepted


@pytest.mark.parametrize("base", ["addon.example.com", "ftp://x", "https://x?y=1", "https://x#y"])
def test_render_refuses_non_base_urls(base: str) -> None:
    with pytest.raises(ValueError, match="not a base URL"):
        descriptor.render(base)


def test_command_prints_the_rendered_descriptor(capsys: pytest.CaptureFixture[str]) -> None:
    assert descriptor.main([BASE]) == 0
    assert json.loads(capsys.readouterr().out) == descriptor.render(BASE)
    assert descriptor.main([BASE, str(ROOT / "appsscript" / "appsscript.json")]) == 0
    assert json.loads(capsys.readouterr().out)["urlFetchWhitelist"] == [BASE + "/"]
    descriptor.main(["http://127.0.0.1:8080"])
    assert "https" in capsys.readouterr().err


# --------------------------------------------------------------------------- Apps Script


def _apps_script() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((ROOT / "appsscript" / "appsscript.json").read_text())
    return document


def _code() -> str:
    return (ROOT / "appsscript" / "Code.gs").read_text()


def test_apps_script_manifest_matches_the_descriptor() -> None:
    manifest = _apps_script()
    template = descriptor.template()
    assert manifest["oauthScopes"] == [*template["oauthScopes"], *scopes.APPS_SCRIPT_EXTRA_SCOPES]
    assert manifest["urlFetchWhitelist"] == [descriptor.PLACEHOLDER_ORIGIN + "/"]
    common, http_common = manifest["addOns"]["common"], template["addOns"]["common"]
    for key in ("name", "logoUrl", "useLocaleFromApp", "openLinkUrlPrefixes"):
        assert common[key] == http_common[key]
    assert manifest["addOns"]["calendar"]["currentEventAccess"] == "READ"
    assert set(manifest["addOns"]) == {"common", "gmail", "calendar"}


def test_apps_script_functions_exist_and_paths_match() -> None:
    code = _code()
    manifest = _apps_script()
    functions = {s for s in _strings(manifest["addOns"]) if re.fullmatch(r"on[A-Z]\w+", s)}
    assert functions == {"onHomepage", "onGmailMessage", "onCalendarEventOpen"}
    for name in [*functions, "onAction"]:
        assert re.search(rf"^function {name}\(e\)", code, re.M), name
    quoted = set(re.findall(r"'(/addon/[a-z/-]+)'", code))
    assert quoted == paths.ADDON_PATHS


def test_every_url_of_ours_is_a_route_of_the_app(app: Flask) -> None:
    """Each trigger and action URL answers POST, and the connect flow's GET routes exist."""
    base = app.config["SETTINGS"].public_base_url.rstrip("/")
    rendered = descriptor.render(base)
    ours = [s for s in _strings(rendered["addOns"]) if s.startswith(base + "/")]
    ours = [u for u in ours if u not in rendered["addOns"]["common"]["openLinkUrlPrefixes"]]
    adapter = app.url_map.bind("addon.test")
    assert {u[len(base) :] for u in ours} == paths.TRIGGER_PATHS
    for path in sorted(paths.ADDON_PATHS):
        endpoint, _ = adapter.match(path, method="POST")
        assert endpoint.startswith("addon."), path
    for path in (paths.OAUTH_START, paths.OAUTH_CALLBACK):
        adapter.match(path, method="GET")
