"""The stand-in org's sObjects: fields, their types and access, picklists, relationships and
key prefixes.

Field lists follow the object reference (https://developer.salesforce.com/docs/atlas.en-us.
object_reference.meta/object_reference/sforce_api_objects_task.htm, ..._event.htm,
..._contact.htm, ..._lead.htm, ..._account.htm, ..._opportunity.htm, ..._user.htm,
..._taskstatus.htm), reduced to what a CRM activity sync touches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]
Record = dict[str, Any]

# -- fields -----------------------------------------------------------------------------------
SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "int": "xsd:int",
    "double": "xsd:double",
    "boolean": "xsd:boolean",
}
TEXT_TYPES = frozenset({"id", "string", "textarea", "picklist", "reference", "email", "url"})


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    length: int = 0
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    default: Any = None
    picklist: tuple[str, ...] | str = ()  # values, or "TaskStatus" / "TaskTypes" (org's lists)
    restricted: bool = False
    reference_to: tuple[str, ...] = ()
    relationship: str | None = None
    external_id: bool = False
    label: str = ""

    @property
    def title(self) -> str:
        if self.label:
            return self.label
        name = self.name.removesuffix("__c").removesuffix("Id").replace("_", " ")
        return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name) or self.name

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    @property
    def read_only(self) -> bool:
        return not self.createable and not self.updateable


def _s(name: str, length: int, **kw: Any) -> Field:
    return Field(name, "string", length, **kw)


def _ref(name: str, to: tuple[str, ...], rel: str, **kw: Any) -> Field:
    return Field(name, "reference", 18, reference_to=to, relationship=rel, **kw)


def _flag(name: str, **kw: Any) -> Field:
    return Field(name, "boolean", nillable=False, default=False, **kw)


def _ro(item: Field) -> Field:
    return Field(**{**item.__dict__, "createable": False, "updateable": False})


def _create_only(item: Field) -> Field:
    return Field(**{**item.__dict__, "updateable": False})


WHO = _ref("WhoId", ("Contact", "Lead"), "Who", label="Name ID")
WHAT = _ref("WhatId", ("Account", "Opportunity"), "What", label="Related To ID")
OWNER = _ref("OwnerId", ("User",), "Owner", nillable=False, label="Assigned To ID")
MASTER = "MasterRecordId"
STAGES = (
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
)
LEAD_STATUSES = (
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
)


def _system(name: str, deletable: bool) -> list[Field]:
    head = [Field("Id", "id", 18, createable=False, updateable=False, nillable=False)]
    if deletable:
        head.append(_ro(_flag("IsDeleted", label="Deleted")))
    by = ("User",)
    return [
        *head,
        _ro(Field("CreatedDate", "datetime", nillable=False)),
        _ro(_ref("CreatedById", by, "CreatedBy", nillable=False)),
        _ro(Field("LastModifiedDate", "datetime", nillable=False)),
        _ro(_ref("LastModifiedById", by, "LastModifiedBy", nillable=False)),
        _ro(Field("SystemModstamp", "datetime", nillable=False)),
    ]


@dataclass
class SObject:
    name: str
    prefix: str
    fields: list[Field]
    createable: bool = True
    label: str = ""
    by_name: dict[str, Field] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fields = _system(self.name, self.createable) + self.fields
        self.by_name = {f.name.lower(): f for f in self.fields}
        self.label = self.label or self.name

    def field(self, name: str) -> Field | None:
        return self.by_name.get(name.lower())

    def relationship(self, name: str) -> Field | None:
        for item in self.fields:
            if item.relationship and item.relationship.lower() == name.lower():
                return item
        return None


SOBJECTS: dict[str, SObject] = {
    spec.name: spec
    for spec in (
        SObject(
            "Task",
            "00T",
            [
                WHO,
                WHAT,
                _s("Subject", 255),
                Field("ActivityDate", "date", label="Due Date Only"),
                Field(
                    "Status",
                    "picklist",
                    255,
                    nillable=False,
                    picklist="TaskStatus",
                    restricted=True,
                ),
                Field(
                    "Priority",
                    "picklist",
                    40,
                    nillable=False,
                    default="Normal",
                    picklist=("High", "Normal", "Low"),
                ),
                _ro(_flag("IsHighPriority")),
                OWNER,
                Field("Description", "textarea", 32000),
                Field("Type", "picklist", 40, picklist="TaskTypes"),
                _ro(_flag("IsClosed")),
                _ro(_ref("AccountId", ("Account",), "Account")),
                Field("CallDurationInSeconds", "int"),
                Field("CallType", "picklist", 40, picklist=("Internal", "Inbound", "Outbound")),
                _s("CallDisposition", 255),
                _create_only(_flag("IsRecurrence")),
                _ro(_ref("RecurrenceActivityId", ("Task",), "RecurrenceActivity")),
                _create_only(
                    Field(
                        "TaskSubtype",
                        "picklist",
                        40,
                        default="Task",
                        picklist=("Task", "Email", "ListEmail", "Call"),
                        restricted=True,
                    )
                ),
                _ro(Field("CompletedDateTime", "datetime")),
                _s("CRM_Activity_Id__c", 255, external_id=True, label="CRM Activity Id"),
            ],
        ),
        SObject(
            "Event",
            "00U",
            [
                WHO,
                WHAT,
                _s("Subject", 255),
                _s("Location", 255),
                _flag("IsAllDayEvent"),
                Field("ActivityDateTime", "datetime", label="Due Date Time"),
                Field("ActivityDate", "date", label="Due Date Only"),
                Field("DurationInMinutes", "int"),
                Field("StartDateTime", "datetime"),
                Field("EndDateTime", "datetime"),
                Field("Description", "textarea", 32000),
                _ro(_ref("AccountId", ("Account",), "Account")),
                OWNER,
                _flag("IsPrivate"),
                Field("ShowAs", "picklist", 40, picklist=("Busy", "OutOfOffice", "Free")),
                _ro(_flag("IsChild")),
                _create_only(_flag("IsRecurrence")),
                _create_only(
                    Field(
                        "EventSubtype",
                        "picklist",
                        40,
                        default="Event",
                        picklist=("Event",),
                        restricted=True,
                    )
                ),
            ],
        ),
        SObject(
            "Contact",
            "003",
            [
                _ro(_ref(MASTER, ("Contact",), "MasterRecord")),
                _ref("AccountId", ("Account",), "Account"),
                _s("LastName", 80, nillable=False),
                _s("FirstName", 40),
                _ro(_s("Name", 121, label="Full Name")),
                Field("Email", "email", 80),
                _s("Title", 128),
                OWNER,
            ],
        ),
        SObject(
            "Lead",
            "00Q",
            [
                _ro(_ref(MASTER, ("Lead",), "MasterRecord")),
                _s("LastName", 80, nillable=False),
                _s("FirstName", 40),
                _ro(_s("Name", 121, label="Full Name")),
                _s("Company", 255, nillable=False),
                Field("Email", "email", 80),
                Field(
                    "Status",
                    "picklist",
                    40,
                    nillable=False,
                    default=LEAD_STATUSES[0],
                    picklist=LEAD_STATUSES,
                ),
                _create_only(_flag("IsConverted", label="Converted")),
                _ro(_ref("ConvertedContactId", ("Contact",), "ConvertedContact")),
                OWNER,
            ],
        ),
        SObject(
            "Account",
            "001",
            [
                _ro(_ref(MASTER, ("Account",), "MasterRecord")),
                _s("Name", 255, nillable=False, label="Account Name"),
                Field("Website", "url", 255),
                OWNER,
            ],
        ),
        SObject(
            "Opportunity",
            "006",
            [
                _ref("AccountId", ("Account",), "Account"),
                _s("Name", 120, nillable=False),
                Field("StageName", "picklist", 255, nillable=False, picklist=STAGES, label="Stage"),
                Field("CloseDate", "date", nillable=False),
                Field("Amount", "double"),
                OWNER,
            ],
        ),
        SObject(
            "User",
            "005",
            [
                _s("Username", 80, nillable=False),
                _s("LastName", 80, nillable=False),
                _s("FirstName", 40),
                _ro(_s("Name", 121, label="Full Name")),
                Field("Email", "email", 128, nillable=False),
                _flag("IsActive", label="Active"),
                _s("TimeZoneSidKey", 40, nillable=False, label="Time Zone"),
            ],
            createable=False,
        ),
        SObject(
            "TaskStatus",
            "01J",
            [
                _s("MasterLabel", 255, label="Master Label"),
                _s("ApiName", 255),
                Field("SortOrder", "int"),
                _flag("IsDefault"),
                _flag("IsClosed"),
            ],
            createable=False,
            label="Task Status Value",
        ),
    )
}
PREFIXES = {spec.prefix: name for name, spec in SOBJECTS.items()}


def sobject(name: str) -> SObject | None:
    """The sObject of a (case-insensitive) name."""
    for key, spec in SOBJECTS.items():
        if key.lower() == name.lower():
            return spec
    return None


def type_of(record_id: str) -> str | None:
    return PREFIXES.get(record_id[:3])
