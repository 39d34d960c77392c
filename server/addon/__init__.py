"""The Google Workspace add-on (Gmail + Calendar sidebar).

- :mod:`.paths`: the fixed endpoint paths; :mod:`.scopes`: the OAuth scopes.
- :mod:`.auth`: verify the Google-signed request token and the rep's ``userIdToken``.
- :mod:`.events`: parse the event object into one typed :class:`~.events.AddonEvent`.
- :mod:`.views`, :mod:`.cards`, :mod:`.responses`: view values -> card JSON -> response envelope.
- :mod:`.descriptor`: the HTTP deployment descriptor (``manifest.json``).
- :mod:`.routes`: the endpoints and the gate they share (tokens, event, scopes, rep, connection);
  :mod:`.handlers`: one function per endpoint; :mod:`.service`: the CRM side (views, writes);
  :mod:`.calendar_api`: the rep's calendar and the open message, read with the request's token.

See https://developers.google.com/workspace/add-ons/guides/alternate-runtimes
"""
