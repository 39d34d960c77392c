"""Every table of the service, imported in one place so Alembic sees the whole schema."""

from server.calendars import models as calendar_models
from server.calendars import tables as calendar_sync_tables
from server.crm import emails as crm_emails
from server.crm import models as crm_models
from server.db import Base
from server.salesforce import models as salesforce_models

metadata = Base.metadata

__all__ = [
    "calendar_models",
    "calendar_sync_tables",
    "crm_emails",
    "crm_models",
    "metadata",
    "salesforce_models",
]
