"""One Salesforce activity record into the CRM, with the rule that decided (P1-P6, H6).

Runs inside the page's transaction; each record in a savepoint of its own, so a record that
cannot be applied is rolled back alone and logged as failed with its error.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from server.crm import accounts, activities, meetings
from server.crm import services as crm
from server.crm.models import Activity, Engagement, Meeting, User
from server.errors import Invalid
from server.salesforce import document, links, outbox
from server.salesforce.convert import Unconvertible, convert, instant, parse_stamp, plain
from server.salesforce.models import SalesforceLink, SalesforceLogEntry, SalesforceOrg
from server.salesforce.outgoing import without_prefix

SUBTYPE_KIND = {"Task": "task", "Email": "email", "ListEmail": "email", "Call": "call"}
TITLE_MAX = 255


class Applier:
    def __init__(self, session: Session, org: SalesforceOrg, now: datetime) -> None:
        self.session = session
        session.info[outbox.PULLING] = True  # what the pull changes is never pushed back (H6)
        self.org = org
        self.account_id = org.account_id
        self.now = now
        self.doc = document.current(org.settings)
        self.enabled_at = org.enabled_at or {}
        self.log: list[SalesforceLogEntry] = []
        self._directory: accounts.Directory | None = None
        # Links the page's records name, loaded once per page: (object type, Salesforce id).
        self._known: dict[tuple[str, str], SalesforceLink | None] = {}

    def prepare(self, records: list[dict[str, Any]]) -> None:
        """Load in a few queries the links every record of the page will ask for."""
        wanted: dict[str, set[str]] = {t: set() for t in ("activity", "meeting", "note")}
        wanted["contact"] = set()
        wanted |= {"company": set(), "deal": set(), "user": set()}
        for record in records:
            for object_type in ("activity", "meeting", "note"):
                wanted[object_type].add(str(record.get("Id") or ""))
            wanted["contact"].add(str(record.get("WhoId") or ""))
            for object_type in ("company", "deal"):
                wanted[object_type].add(str(record.get("WhatId") or ""))
            wanted["user"].add(str(record.get("OwnerId") or ""))
        for object_type, ids in wanted.items():
            found = links.by_record(self.session, self.account_id, object_type, ids)
            for sf_id in ids:
                self._known[(object_type, sf_id)] = found.get(sf_id)

    def _link(self, object_type: str, salesforce_id: str) -> SalesforceLink | None:
        key = (object_type, salesforce_id)
        if key not in self._known:
            found = links.by_record(self.session, self.account_id, object_type, [salesforce_id])
            self._known[key] = found.get(salesforce_id)
        return self._known[key]

    def flush_log(self) -> None:
        self.session.add_all(self.log)
        self.log.clear()
        self.session.flush()

    def _note(self, record: dict[str, Any], action: str, rule: str, reason: str, **kw: Any) -> str:
        self.log.append(
            SalesforceLogEntry(
                account_id=self.account_id,
                created_at=self.now,
                direction="inbound",
                salesforce_type=str((record.get("attributes") or {}).get("type") or ""),
                salesforce_id=str(record.get("Id") or ""),
                action=action,
                rule=rule,
                reason=reason[:500],
                **kw,
            )
        )
        return action

    def apply(self, sobject: str, record: dict[str, Any]) -> str:
        record.setdefault("attributes", {"type": sobject})
        try:
            with self.session.begin_nested():
                return self._apply(sobject, record)
        except (Unconvertible, Invalid) as exc:
            message = exc.message if isinstance(exc, Invalid) else str(exc)
            return self._note(
                record, "error", "P5", "could not be applied", error=message, status="failed"
            )

    def _kind(self, sobject: str, record: dict[str, Any]) -> str | None:
        if sobject == "Event":
            return "meeting"
        return SUBTYPE_KIND.get(str(record.get("TaskSubtype") or "Task"))

    def _apply(self, sobject: str, record: dict[str, Any]) -> str:
        kind = self._kind(sobject, record)
        sf_id = str(record["Id"])
        object_type = "meeting" if kind == "meeting" else "activity"
        link = self._link(object_type, sf_id)
        pushed = self._pushed(sf_id)
        if pushed is not None:
            seen = self._pushed_record(record, kind, pushed)
            if seen is not None:
                return seen
        if kind is None:
            return self._note(
                record, "skip", "P1", f"TaskSubtype {record.get('TaskSubtype')} is not synced"
            )
        settings = self.doc["inbound"][kind]
        if record.get("IsDeleted"):
            return self._deleted(record, kind, settings["on_delete"], link)
        if not settings["enabled"]:
            return self._note(record, "skip", "P1", f"{kind} sync is off")
        if record.get("IsRecurrence") or record.get("IsChild"):
            return self._note(
                record, "skip", "P3", "a recurring series' parent or an invitee's copy"
            )
        stamp = parse_stamp(record["SystemModstamp"])
        switched = self.enabled_at.get(f"inbound.{kind}")
        # Stamps have whole seconds: a record of the switch's own second counts as after it.
        if switched and stamp < datetime.fromisoformat(switched).replace(microsecond=0):
            return self._note(record, "skip", "P2", "last changed before the switch was turned on")
        contact_link = self._link("contact", str(record.get("WhoId") or ""))
        who = contact_link.crm_id if contact_link is not None else None
        if who is None:
            return self._note(record, "skip", "P3", "its WhoId is no linked contact")
        values = self._values(kind, record)
        extras = self._associations(record)
        owner = self._owner(record)
        if link is None:
            crm_id = self._create(kind, who, values, extras, owner)
            made = SalesforceLink(
                account_id=self.account_id,
                object_type=object_type,
                crm_id=crm_id,
                salesforce_type=sobject,
                salesforce_id=sf_id,
                origin="pull",
                created_at=self.now,
                updated_at=self.now,
            )
            self.session.add(made)
            self._known[(object_type, sf_id)] = made
            return self._note(
                record, "create", "P3", f"new {kind} on the linked contact", crm_id=crm_id
            )
        engagement = self.session.get(Engagement, link.crm_id)
        if engagement is None or engagement.account_id != self.account_id:
            return self._note(record, "skip", "P3", "its CRM activity was deleted in the CRM")
        if link.origin == "push" and isinstance(engagement, Activity):
            self._update_pushed(engagement, values)
            return self._note(
                record,
                "update",
                "H6",
                f"a pushed {kind} edited in Salesforce by a person",
                crm_id=link.crm_id,
            )
        self._update(engagement, who, values, extras, owner)
        return self._note(
            record, "update", "P3", f"{kind} changed in Salesforce", crm_id=link.crm_id
        )

    def _pushed(self, salesforce_id: str) -> SalesforceLink | None:
        """The link of a Task the push wrote, whatever the CRM object it came from."""
        for object_type in ("activity", "note", "meeting"):
            found = self._link(object_type, salesforce_id)
            if found is not None and found.origin == "push":
                return found
        return None

    def _pushed_record(
        self, record: dict[str, Any], kind: str | None, link: SalesforceLink
    ) -> str | None:
        """H6 for a Task the push wrote: our own write read back is no news; its deletion or a
        person's edit of a note's or meeting's Task stays in Salesforce; a person's edit of an
        activity's Task is pulled (None: go on)."""
        if record.get("IsDeleted"):
            self.session.delete(link)
            self._known[(link.object_type, link.salesforce_id)] = None
            return self._note(
                record,
                "skip",
                "H6",
                "a pushed Task deleted in Salesforce; the CRM keeps its activity",
                crm_id=link.crm_id,
            )
        if self._own_write(record, link, parse_stamp(record["SystemModstamp"])):
            return "echo"  # our own write read back; not worth a log line
        if link.object_type != "activity" or kind is None:
            return self._note(
                record,
                "skip",
                "H6",
                f"a Task pushed from a CRM {link.object_type}; its edits stay in Salesforce",
                crm_id=link.crm_id,
            )
        return None

    def purged(self, sobject: str, salesforce_ids: list[str]) -> list[str]:
        """Records ``getDeleted`` names: those the pull made an activity for follow their
        kind's ``on_delete``; the rest concern nothing here."""
        object_type = "meeting" if sobject == "Event" else "activity"
        found = links.by_record(self.session, self.account_id, object_type, salesforce_ids)
        done = []
        for sf_id, link in found.items():
            if link.origin == "push":  # a pushed Task purged: the CRM keeps its activity (H6)
                self.session.delete(link)
                continue
            engagement = self.session.get(Engagement, link.crm_id)
            kind = "meeting" if sobject == "Event" else (engagement.kind if engagement else "task")
            if kind not in self.doc["inbound"]:
                continue
            record = {"Id": sf_id, "IsDeleted": True, "attributes": {"type": sobject}}
            done.append(self._deleted(record, kind, self.doc["inbound"][kind]["on_delete"], link))
        return done

    def _own_write(self, record: dict[str, Any], link: SalesforceLink, stamp: datetime) -> bool:
        by_us = str(record.get("LastModifiedById") or "") == self.org.integration_user_id
        return by_us and link.written_stamp is not None and stamp <= link.written_stamp

    def _deleted(
        self, record: dict[str, Any], kind: str, on_delete: str, link: SalesforceLink | None
    ) -> str:
        if link is None:
            return self._note(record, "skip", "P4", "deleted; nothing had been pulled for it")
        if on_delete == "keep":
            return self._note(
                record, "skip", "P4", f"deleted in Salesforce; {kind}s are kept", crm_id=link.crm_id
            )
        engagement = self.session.get(Engagement, link.crm_id)
        if engagement is not None and engagement.account_id == self.account_id:
            meetings.delete_engagement(self.session, engagement)
        self.session.delete(link)
        self._known[(link.object_type, link.salesforce_id)] = None
        return self._note(record, "delete", "P4", "deleted in Salesforce", crm_id=link.crm_id)

    def _values(self, kind: str, record: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for mapping in document.mappings_of(self.org.mappings, kind):
            field = mapping["salesforce_field"]
            values[mapping["crm_property"]] = convert(record.get(field), mapping["type"], field)
        return values

    def _associations(self, record: dict[str, Any]) -> list[tuple[str, int]]:
        """P6 beyond: the WhatId's linked company or deal."""
        what = str(record.get("WhatId") or "")
        out: list[tuple[str, int]] = []
        for object_type in ("deal", "company"):
            found = self._link(object_type, what)
            if found is not None:
                out.append((object_type, found.crm_id))
        return out

    def _owner(self, record: dict[str, Any]) -> User | None:
        """P6 beyond: the OwnerId's linked user."""
        owner_id = str(record.get("OwnerId") or "")
        found = self._link("user", owner_id)
        user = self.session.get(User, found.crm_id) if found else None
        return user if user is not None and user.account_id == self.account_id else None

    def _split(self, values: dict[str, Any]) -> tuple[str, str, datetime, dict[str, Any]]:
        title = str(values.get("title") or "(no subject)")[:TITLE_MAX]
        body = str(values.get("body") or "")
        when = instant(values.get("occurred_at") or self.now)
        rest = {
            k: plain(v) for k, v in values.items() if k not in document.CRM_FIELDS and v is not None
        }
        return title, body, when, rest

    def _create(
        self,
        kind: str,
        who: int,
        values: dict[str, Any],
        extras: list[tuple[str, int]],
        owner: User | None,
    ) -> int:
        title, body, when, rest = self._split(values)
        if kind == "meeting":
            end = rest.get("end")
            meeting = crm.create_meeting(
                self.session,
                self.account_id,
                title=title,
                start=when,
                end=parse_stamp(end) if end else when,
                people=self.directory(),
                associations=[("contact", who), *extras],
                owner=owner,
                source="salesforce",
                description=body,
                location=rest.get("location"),
            )
            return meeting.id
        activity = activities.create(
            self.session,
            self.account_id,
            kind=kind,
            title=title,
            occurred_at=when,
            contact_ids=[who],
            body=body,
            associations=extras,
            owner=owner,
            properties=rest or None,
            source="salesforce",
        )
        return activity.id

    def _update(
        self,
        engagement: Engagement,
        who: int,
        values: dict[str, Any],
        extras: list[tuple[str, int]],
        owner: User | None,
    ) -> None:
        title, body, when, rest = self._split(values)
        if isinstance(engagement, Meeting):
            end = rest.get("end")
            meetings.update_meeting(
                self.session,
                engagement,
                {
                    "title": title,
                    "description": body,
                    "start": when,
                    "end": parse_stamp(end) if end else when,
                    "associations": [("contact", who), *extras],
                    "owner": owner,
                },
                self.directory(),
                notify=False,
            )
            engagement.location = rest.get("location")
            return
        assert isinstance(engagement, Activity)
        activities.update(
            self.session,
            engagement,
            {
                "title": title,
                "body": body,
                "occurred_at": when,
                "contacts": [who],
                "associations": extras,
                "owner": owner,
                "properties": rest,
            },
        )

    def _update_pushed(self, engagement: Activity, values: dict[str, Any]) -> None:
        """A person's edit of a Task the push wrote: its subject (without the pattern's
        prefix), description and mapped properties; the CRM keeps its contacts, associations
        and owner, and its time unless the date moved (the Task has a date only)."""
        title, body, when, rest = self._split(values)
        changes: dict[str, Any] = {
            "title": without_prefix(engagement.kind, title),
            "body": body,
            "properties": {**(engagement.properties or {}), **rest},
        }
        if abs((when.date() - engagement.occurred_at.date()).days) > 1:
            changes["occurred_at"] = when
        activities.update(self.session, engagement, changes)

    def directory(self) -> accounts.Directory:
        if self._directory is None:
            self._directory = accounts.directory(self.session, self.account_id)
        return self._directory
