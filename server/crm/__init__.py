"""The CRM core: accounts, users, contacts, companies, deals, tickets and engagements."""
