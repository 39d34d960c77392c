"""A local stand-in for Google's Gmail / Calendar sidebar host: ``/preview/``.

Served only when ``settings.preview_enabled`` (the ``demo`` command turns it on). The page
renders the add-on's card JSON and sends every action to the add-on routes exactly as Google's
host does, with tokens signed by whatever plays Google (:class:`~.host.PreviewHost`).
"""

from .host import PreviewHost, PreviewMessage, PreviewUser, install
from .routes import register

__all__ = ["PreviewHost", "PreviewMessage", "PreviewUser", "install", "register"]
