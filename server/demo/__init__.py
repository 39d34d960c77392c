"""``meeting-assistant demo``: seeded data, a local Google, the web server, a worker, and the
sidebar preview, in one command. See :mod:`.stack`."""

from .stack import DemoError, DemoOptions, DemoStack

__all__ = ["DemoError", "DemoOptions", "DemoStack"]
