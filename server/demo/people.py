"""Who and what the demo is about: one sales team, its customers, and their people.

Plain data shared by the CRM seed, the demo calendar and the demo inbox.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Person:
    email: str
    name: str

    @property
    def first_name(self) -> str:
        return self.name.partition(" ")[0]

    @property
    def last_name(self) -> str:
        return self.name.partition(" ")[2]


@dataclass(frozen=True)
class CompanySeed:
    name: str
    domain: str


@dataclass(frozen=True)
class ContactSeed:
    person: Person
    company: str


ACCOUNT_NAME = "Demo Company"
DOMAINS = ("demo-company.example", "demo-company-eu.example")

REP = Person("rep@demo-company.example", "Riley Rep")
MANAGER = Person("morgan@demo-company.example", "Morgan Manager")
SUPPORT = Person("sam@demo-company-eu.example", "Sam Support")
#: Signs in to Google but is no user of any account: the add-on says so and shows no data.
OUTSIDER = Person("pat@freelance.example", "Pat Freelancer")

COMPANIES = (
    CompanySeed("Northwind Traders", "northwind.example"),
    CompanySeed("Globex", "globex.example"),
    CompanySeed("Initech", "initech.example"),
)

ALICE = Person("alice@northwind.example", "Alice Walker")
BOB = Person("bob@globex.example", "Bob Stone")
CAROL = Person("carol@initech.example", "Carol Nguyen")
DAVE = Person("dave@initech.example", "Dave Okafor")

CONTACTS = (
    ContactSeed(ALICE, "Northwind Traders"),
    ContactSeed(BOB, "Globex"),
    ContactSeed(CAROL, "Initech"),
    ContactSeed(DAVE, "Initech"),
)

# People on the calendar who are not contacts yet (the sidebar offers "Add").
FRANK = Person("frank@northwind.example", "Frank Ortiz")
DANA = Person("dana@globex.example", "Dana Cruz")
ERIN = Person("erin@globex.example", "Erin Park")

DEALS = (
    ("Northwind Traders: 200 seats", "Northwind Traders"),
    ("Globex renewal 2027", "Globex"),
    ("Initech pilot", "Initech"),
)
