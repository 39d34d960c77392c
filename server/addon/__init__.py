"""The Google Workspace add-on (Gmail + Calendar sidebar): pure pieces the routes wire together.

- :mod:`.paths`: the fixed endpoint paths; :mod:`.scopes`: the OAuth scopes.
- :mod:`.auth`: verify the Google-signed request token and the rep's ``userIdToken``.
- :mod:`.events`: parse the event object into one typed :class:`~.events.AddonEvent`.
- :mod:`.views`, :mod:`.cards`, :mod:`.responses`: view values -> card JSON -> response envelope.
- :mod:`.descriptor`: the HTTP deployment descriptor (``manifest.json``).

See https://developers.google.com/workspace/add-ons/guides/alternate-runtimes
"""
