"""Calendar connections, providers, sync engine, push channels and the CRM-to-calendar outbox."""
