"""Meeting Assistant: a Google Workspace add-on backend with a CRM and calendar sync."""
