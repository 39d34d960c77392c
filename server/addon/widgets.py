"""Small builders for google.apps.card.v1 JSON (camelCase) and text formatting for cards.

Card reference: https://developers.google.com/workspace/add-ons/reference/rpc/google.apps.card.v1
Text in add-on cards is a small HTML subset
(https://developers.google.com/workspace/add-ons/concepts/widgets#text_formatting), so every
piece of user data goes through :func:`esc`.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from . import paths
from .views import RenderContext

Json = dict[str, Any]

ERROR_COLOR = "#B3261E"
# Locales whose convention is a 12-hour clock; everyone else gets 24 hours.
_TWELVE_HOUR = {"en-us", "en-ca", "en-au", "en-nz", "en-in", "en-ph", "es-us"}
_US_DATE = {"en-us", "en-ph", "es-us"}


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def esc(text: str, limit: int | None = None) -> str:
    """User text made safe for the card HTML subset; newlines become ``<br>``."""
    if limit is not None:
        text = clip(text, limit)
    return html.escape(text, quote=False).replace("\r\n", "\n").replace("\n", "<br>")


def error_text(message: str) -> str:
    """Inline error text in the card's error colour."""
    return f'<font color="{ERROR_COLOR}">{esc(message)}</font>'


# --------------------------------------------------------------------------- dates and times


def _locale_key(ctx: RenderContext) -> str:
    return (ctx.locale or "en").replace("_", "-").lower()


def fmt_time(value: datetime, ctx: RenderContext) -> str:
    """A clock time in the rep's zone and locale convention (``14:30`` or ``2:30 PM``)."""
    local = value.astimezone(ctx.tz)
    if _locale_key(ctx) in _TWELVE_HOUR:
        hour = local.hour % 12 or 12
        return f"{hour}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"
    return f"{local.hour:02d}:{local.minute:02d}"


def fmt_day(value: datetime, ctx: RenderContext) -> str:
    """A short date in the rep's zone: ``Tue 4 Jun`` (``Tue, Jun 4`` in the US)."""
    local = value.astimezone(ctx.tz) if value.tzinfo else value
    if _locale_key(ctx) in _US_DATE:
        return f"{local:%a}, {local:%b} {local.day}"
    return f"{local:%a} {local.day} {local:%b}"


def fmt_datetime(value: datetime, ctx: RenderContext) -> str:
    """Date and time in the rep's zone."""
    return f"{fmt_day(value, ctx)}, {fmt_time(value, ctx)}"


def fmt_range(
    start: datetime | None, end: datetime | None, ctx: RenderContext, *, all_day: bool = False
) -> str:
    """``10:00 - 10:30`` (en dash) in the rep's zone; an end on another day shows its date."""
    if all_day:
        return "All day"
    if start is None:
        return "Time not set"
    if end is None:
        return fmt_time(start, ctx)
    same_day = start.astimezone(ctx.tz).date() == end.astimezone(ctx.tz).date()
    end_text = fmt_time(end, ctx) if same_day else fmt_datetime(end, ctx)
    return f"{fmt_time(start, ctx)} \u2013 {end_text}"


# --------------------------------------------------------------------------- widgets


def action(ctx: RenderContext, path: str, **parameters: str | None) -> Json:
    """An ``Action`` calling our endpoint ``path``; None-valued parameters are left out."""
    if path not in paths.ACTION_PATHS:
        raise ValueError(f"not an action path: {path!r}")
    out: Json = {"function": paths.absolute(ctx.public_base_url, path)}
    params = [{"key": k, "value": v} for k, v in parameters.items() if v is not None]
    if params:
        out["parameters"] = params
    return out


def on_action(ctx: RenderContext, path: str, **parameters: str | None) -> Json:
    """An ``OnClick`` running the action ``path``."""
    return {"action": action(ctx, path, **parameters)}


def on_open_link(url: str, *, overlay_reload: bool = False) -> Json:
    """An ``OnClick`` opening ``url``: a new tab, or an overlay that reloads the card on close."""
    link: Json = {"url": url}
    if overlay_reload:
        link |= {"openAs": "OVERLAY", "onClose": "RELOAD"}
    else:
        link["openAs"] = "FULL_SIZE"
    return {"openLink": link}


def button(text: str, on_click: Json, *, filled: bool = False) -> Json:
    """A text button."""
    out: Json = {"text": text, "onClick": on_click}
    if filled:
        out["type"] = "FILLED"
    return out


def buttons(*items: Json) -> Json:
    """A ``buttonList`` widget."""
    return {"buttonList": {"buttons": list(items)}}


def paragraph(text_html: str) -> Json:
    """A ``textParagraph`` widget; ``text_html`` must already be escaped."""
    return {"textParagraph": {"text": text_html}}


def decorated(
    text_html: str,
    *,
    top: str | None = None,
    bottom: str | None = None,
    icon: str | None = None,
    on_click: Json | None = None,
    end_button: Json | None = None,
) -> Json:
    """A ``decoratedText`` widget; labels are plain text and get escaped here."""
    out: Json = {"text": text_html, "wrapText": True}
    if top:
        out["topLabel"] = esc(top, 120)
    if bottom:
        out["bottomLabel"] = esc(bottom, 120)
    if icon:
        out["startIcon"] = {"knownIcon": icon}
    if on_click:
        out["onClick"] = on_click
    if end_button:
        out["button"] = end_button
    return {"decoratedText": out}


def section(widgets: list[Json], header: str | None = None, *, visible: int | None = None) -> Json:
    """A card section; with ``visible`` set, widgets beyond that count start collapsed."""
    out: Json = {"widgets": widgets}
    if header:
        out["header"] = esc(header, 80)
    if visible is not None and len(widgets) > visible:
        out |= {"collapsible": True, "uncollapsibleWidgetsCount": visible}
    return out


def card(
    name: str,
    title: str,
    sections: list[Json],
    *,
    subtitle: str | None = None,
    footer: tuple[Json, Json | None] | None = None,
    menu: list[tuple[str, Json]] | None = None,
) -> Json:
    """A ``Card``: header (plain-text title), sections, optional fixed footer and menu items."""
    header: Json = {"title": clip(title, 100) or "Meeting Assistant"}
    if subtitle:
        header["subtitle"] = clip(subtitle, 100)
    out: Json = {"name": name, "header": header, "sections": sections}
    if footer is not None:
        primary, secondary = footer
        out["fixedFooter"] = {"primaryButton": primary}
        if secondary is not None:
            out["fixedFooter"]["secondaryButton"] = secondary
    if menu:
        out["cardActions"] = [{"actionLabel": label, "onClick": click} for label, click in menu]
    return out
