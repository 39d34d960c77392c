"""State of the Salesforce stand-in org: users, records per sObject, the delete log, the clock,
the daily API limit, injected faults, query cursors and the request log. Thread-safe (one
RLock). The hooks (``insert``, ``update``, ``delete``, ``merge``, ...) act as a person in the
Salesforce UI would (by default the sales rep user, not the integration user); the REST
routes call the same operations as the integration user with its field-level access.
"""

from __future__ import annotations

import copy
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .faults import Limits, OrgRequest
from .oauth import OAuthGrants
from .schema import SOBJECTS, Field, JsonDict, Record, SObject, type_of
from .wire import ApiError, make_id, normalize_id, with_checksum
from .writes import write

__all__ = ["OrgRequest", "OrgState"]

Clock = Callable[[], datetime]
EXTERNAL_ID = "CRM_Activity_Id__c"
LOCATOR_TTL = timedelta(minutes=15)
MERGEABLE = frozenset({"Contact", "Lead", "Account"})
TASK_STATUSES = (  # MasterLabel, IsClosed, IsDefault: the defaults of a new org
    ("Not Started", False, True),
    ("In Progress", False, False),
    ("Completed", True, False),
    ("Waiting on someone else", False, False),
    ("Deferred", False, False),
)


@dataclass
class Locator:
    rows: list[JsonDict]
    touched: datetime


class OrgState(OAuthGrants, Limits):
    """One Salesforce org. Settings are plain attributes: ``daily_limit``,
    ``query_page_size``, ``rotate_refresh_tokens``, ``access_token_ttl``,
    ``external_id_field``, ``task_types``, ``earliest_deleted_available``, ``now``."""

    def __init__(self, now: Clock | None = None) -> None:
        OAuthGrants.__init__(self)
        Limits.__init__(self)
        self.now: Clock = now or (lambda: datetime.now(UTC))
        self.lock = threading.RLock()
        self.origin = "https://127.0.0.1"  # the https origin; set when serving
        self.org_id = with_checksum("00D5g00000Kq7Rw")
        self.query_page_size = 2000
        self.external_id_field = True
        self.task_types = ["Call", "Email", "Meeting", "Other"]
        self.earliest_deleted_available: datetime | None = None  # default: 15 days back
        self.data: dict[str, dict[str, Record]] = {name: {} for name in SOBJECTS}
        self.deletions: list[tuple[str, str, datetime]] = []  # sObject, id, deletedDate
        self.locators: dict[str, Locator] = {}
        self._counter = 3_000_000
        self.integration_username = "integration@stand-in.example"
        self.integration_user_id = self.add_user(self.integration_username, "Integration User")
        self.rep_user_id = self.add_user("sam.rep@stand-in.example", "Sam Rep")
        for order, (label, closed, default) in enumerate(TASK_STATUSES, 1):
            fields = {"MasterLabel": label, "ApiName": label, "SortOrder": order}
            fields.update(IsClosed=closed, IsDefault=default)
            self._create("TaskStatus", fields, self.integration_user_id, api=False)

    # -- clock, schema ----------------------------------------------------------------------
    def stamp(self) -> datetime:
        """Now, to the second: the precision of Salesforce's audit fields."""
        return self.now().astimezone(UTC).replace(microsecond=0)

    def field_of(self, spec: SObject, name: str) -> Field | None:
        found = spec.field(name)
        if found is not None and found.name == EXTERNAL_ID and not self.external_id_field:
            return None
        return found

    def fields_of(self, spec: SObject) -> list[Field]:
        return [f for f in spec.fields if self.field_of(spec, f.name) is not None]

    def picklist(self, spec: SObject, item: Field) -> list[str]:
        """A picklist's values: Task.Status from the TaskStatus records, Task.Type from
        ``task_types``, the others fixed."""
        with self.lock:
            if item.picklist == "TaskStatus":
                rows = sorted(self.data["TaskStatus"].values(), key=lambda r: r["SortOrder"] or 0)
                return [str(r["MasterLabel"]) for r in rows]
            if item.picklist == "TaskTypes":
                return list(self.task_types)
            return list(item.picklist)

    def default_status(self) -> str | None:
        with self.lock:
            rows = [r for r in self.data["TaskStatus"].values() if r["IsDefault"]]
            return str(rows[0]["MasterLabel"]) if rows else None

    def closed_statuses(self) -> set[str]:
        with self.lock:
            rows = self.data["TaskStatus"].values()
            return {str(r["MasterLabel"]) for r in rows if r["IsClosed"]}

    # -- users ------------------------------------------------------------------------------
    def add_user(
        self,
        email: str,
        name: str = "",
        *,
        active: bool = True,
        username: str | None = None,
        time_zone: str = "America/Los_Angeles",
    ) -> str:
        """A user (``005`` id); ``name`` is "First Last"; ``time_zone`` its TimeZoneSidKey."""
        first, _, last = name.strip().rpartition(" ")
        fields = {
            "Username": (username or email).strip().lower(),
            "Email": email.strip(),
            "FirstName": first or None,
            "LastName": last or email.split("@")[0],
            "IsActive": active,
            "TimeZoneSidKey": time_zone,
        }
        with self.lock:
            creator = getattr(self, "integration_user_id", None)
            return self._create("User", fields, creator, api=False)

    def set_user_active(self, user: str, active: bool) -> None:
        """Deactivate (or reactivate) a user; a deactivated user's sessions stop working."""
        with self.lock:
            self.update("User", self.user_id_for(user), {"IsActive": active})

    def user_id_for(self, username: str | None) -> str:
        """The id of a user named by id, username or email (None: the integration user)."""
        if username is None:
            return self.integration_user_id
        key = username.strip().lower()
        with self.lock:
            for record in self.data["User"].values():
                if key in (str(record["Username"]).lower(), str(record["Email"]).lower()):
                    return str(record["Id"])
            found = normalize_id(username)
            if found in self.data["User"]:
                return found
        raise KeyError(f"no user {username!r} in the stand-in org")

    def user_is_active(self, user_id: str) -> bool:
        with self.lock:
            return bool(self.data["User"].get(user_id, {}).get("IsActive"))

    # -- records: the operations the routes share -------------------------------------------
    def spec(self, name: str) -> SObject:
        found = SOBJECTS.get(name)
        if found is None:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        return found

    def locate(self, record_id: str) -> tuple[str, Record] | None:
        name = type_of(record_id or "")
        record = self.data[name].get(record_id) if name else None
        return (name, record) if name and record is not None else None

    def find(self, name: str, record_id: str, *, include_deleted: bool = False) -> Record:
        """The stored record, or the 404 the REST API answers."""
        found_id = normalize_id(record_id)
        record = self.data[name].get(found_id) if found_id else None
        if record is None:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        if record.get("IsDeleted") and not include_deleted:
            raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted", [])
        return record

    def create(self, name: str, body: JsonDict, *, user_id: str) -> str:
        """A create through the API, as ``user_id``."""
        with self.lock:
            spec = self.spec(name)
            if not spec.createable:
                raise ApiError(400, "INVALID_TYPE", f"entity type {name} does not support insert")
            return self._create(name, body, user_id, api=True)

    def modify(
        self, name: str, record_id: str, body: JsonDict, *, user_id: str, api: bool = True
    ) -> str:
        with self.lock:
            record = self.find(name, record_id)
            if api and not self.spec(name).createable:
                raise ApiError(400, "INVALID_TYPE", f"entity type {name} does not support update")
            updated = write(self, self.spec(name), record, body, user_id=user_id, api=api)
            self.data[name][str(record["Id"])] = updated  # readers never see half a write
            return str(record["Id"])

    def remove(self, name: str, record_id: str, *, user_id: str) -> None:
        """A delete: to the Recycle Bin (``IsDeleted``), kept for ``queryAll``."""
        with self.lock:
            record = self.find(name, record_id)
            if not self.spec(name).createable:
                raise ApiError(400, "INVALID_TYPE", f"entity type {name} does not support delete")
            self._bump(record, user_id)
            record["IsDeleted"] = True
            self.deletions.append((name, str(record["Id"]), record["SystemModstamp"]))

    def by_external_id(self, name: str, field_name: str, value: str) -> list[Record]:
        spec = self.spec(name)
        item = self.field_of(spec, field_name)
        if item is None or not (item.external_id or item.name == "Id"):
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        with self.lock:
            return [
                r
                for r in self.data[name].values()
                if not r.get("IsDeleted") and str(r.get(item.name) or "").lower() == value.lower()
            ]

    def _create(self, name: str, body: JsonDict, user_id: str | None, *, api: bool) -> str:
        spec = SOBJECTS[name]
        self._counter += 1
        new_id = make_id(spec.prefix, self._counter)
        record = write(self, spec, None, body, user_id=user_id or new_id, api=api)
        record["Id"] = new_id
        self.data[name][new_id] = record
        return new_id

    def _bump(self, record: Record, user_id: str | None) -> None:
        now = self.stamp()
        record["SystemModstamp"] = now
        if user_id is not None:
            record.update(LastModifiedDate=now, LastModifiedById=user_id)

    # -- hooks ------------------------------------------------------------------------------
    def _as(self, as_user: str | None) -> str:
        return self.rep_user_id if as_user is None else self.user_id_for(as_user)

    def insert(self, sobject: str, fields: JsonDict, as_user: str | None = None) -> str:
        """Create a record as a person would in the UI (default: the rep user); read-only
        fields and the audit fields may be given. Raises :class:`ApiError` when invalid."""
        with self.lock:
            self.spec(sobject)
            return self._create(sobject, dict(fields), self._as(as_user), api=False)

    def update(
        self, sobject: str, record_id: str, fields: JsonDict, as_user: str | None = None
    ) -> None:
        self.modify(sobject, record_id, dict(fields), user_id=self._as(as_user), api=False)

    def delete(self, sobject: str, record_id: str, as_user: str | None = None) -> None:
        """Soft delete: ``IsDeleted`` true, kept for ``queryAll`` and ``deleted``."""
        with self.lock:
            record = self.find(sobject, record_id)
            self._bump(record, self._as(as_user))
            record["IsDeleted"] = True
            self.deletions.append((sobject, str(record["Id"]), record["SystemModstamp"]))

    def undelete(self, sobject: str, record_id: str, as_user: str | None = None) -> None:
        with self.lock:
            record = self.find(sobject, record_id, include_deleted=True)
            self._bump(record, self._as(as_user))
            record["IsDeleted"] = False
            self.deletions = [d for d in self.deletions if d[1] != record["Id"]]

    def purge(self, sobject: str, record_id: str) -> None:
        """Gone entirely (hard delete, or emptied from the Recycle Bin); the delete log
        still names it, as ``getDeleted`` does for 15 days."""
        with self.lock:
            record = self.find(sobject, record_id, include_deleted=True)
            del self.data[sobject][record["Id"]]
            if not record.get("IsDeleted"):
                self.deletions.append((sobject, str(record["Id"]), self.stamp()))

    def merge(
        self, sobject: str, master_id: str, loser_id: str, as_user: str | None = None
    ) -> None:
        """Merge ``loser_id`` into ``master_id``: the loser is deleted with ``MasterRecordId``
        set, and records that pointed at it (e.g. Task.WhoId) are re-parented to the master
        (https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_merge.htm)."""
        if sobject not in MERGEABLE:
            raise ApiError(400, "INVALID_TYPE", f"entity type {sobject} does not support merge")
        with self.lock:
            user = self._as(as_user)
            master = self.find(sobject, master_id)
            loser = self.find(sobject, loser_id)
            for name, rows in self.data.items():
                refs = [f.name for f in SOBJECTS[name].fields if f.type == "reference"]
                for row in rows.values():
                    hit = [f for f in refs if f != "MasterRecordId" and row.get(f) == loser["Id"]]
                    for item in hit:
                        row[item] = master["Id"]
                    if hit and row is not loser:
                        self._bump(row, user)
            self._bump(master, user)
            self._bump(loser, user)
            loser.update(IsDeleted=True, MasterRecordId=master["Id"])
            self.deletions.append((sobject, str(loser["Id"]), loser["SystemModstamp"]))

    def convert_lead(self, lead_id: str, as_user: str | None = None) -> str:
        """Convert a lead: a new Contact from its name and email, the lead marked
        ``IsConverted`` with ``ConvertedContactId``; returns the contact's id."""
        with self.lock:
            lead = self.find("Lead", lead_id)
            fields = {k: lead[k] for k in ("FirstName", "LastName", "Email")}
            contact = self.insert("Contact", fields, as_user)
            converted = {"IsConverted": True, "ConvertedContactId": contact}
            self.update("Lead", lead_id, {**converted, "Status": "Closed - Converted"}, as_user)
            return contact

    def touch(self, sobject: str, record_id: str) -> None:
        """A system-only change (a workflow, a recalculation): only ``SystemModstamp``."""
        with self.lock:
            self._bump(self.find(sobject, record_id, include_deleted=True), None)

    def get(self, sobject: str, record_id: str) -> Record | None:
        """A copy of the stored record (Python values), deleted or not; None when absent."""
        with self.lock:
            found_id = normalize_id(record_id)
            record = self.data[sobject].get(found_id) if found_id else None
            return dict(record) if record is not None else None

    def records(self, sobject: str, include_deleted: bool = False) -> list[Record]:
        with self.lock:
            rows = sorted(self.data[sobject].values(), key=lambda r: str(r["Id"]))
            return [dict(r) for r in rows if include_deleted or not r.get("IsDeleted")]

    # -- replication ------------------------------------------------------------------------
    def updated_ids(self, sobject: str, start: datetime, end: datetime) -> list[str]:
        with self.lock:
            return [
                str(r["Id"]) for r in self.records(sobject) if start <= r["SystemModstamp"] <= end
            ]

    def deleted_between(self, sobject: str, start: datetime, end: datetime) -> list[JsonDict]:
        with self.lock:
            found = [(i, when) for name, i, when in self.deletions if name == sobject]
        return [{"id": i, "deletedDate": when} for i, when in found if start <= when <= end]

    def earliest_deleted(self) -> datetime:
        earliest = self.earliest_deleted_available or self.stamp() - timedelta(days=15)
        return earliest.astimezone(UTC).replace(second=0, microsecond=0)

    # -- snapshots (allOrNone) --------------------------------------------------------------
    def snapshot(self) -> Any:
        with self.lock:
            return copy.deepcopy((self.data, self.deletions))

    def restore(self, snapshot: Any) -> None:
        with self.lock:
            self.data, self.deletions = snapshot

    # -- query cursors ----------------------------------------------------------------------
    def keep_rows(self, rows: list[JsonDict]) -> str:
        """A query locator (``01g`` id) holding the rows of a query beyond its first page."""
        with self.lock:
            locator = with_checksum("01g5g00000" + secrets.token_hex(3)[:5].upper())
            self.locators[locator] = Locator(rows, self.now())
            return locator

    def rows_of(self, locator: str) -> list[JsonDict]:
        with self.lock:
            found = self.locators.get(locator)
            if found is None or self.now() - found.touched > LOCATOR_TTL:
                raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            found.touched = self.now()
            return found.rows
