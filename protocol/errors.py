"""Errors raised by the codec. Each carries a reason fit to send back to the agent."""


class ProtocolError(ValueError):
    """A request the codec refuses.

    ``encoding`` is the body encoding detected before the failure (``"zlib"``, ``"gzip"`` or
    ``"none"``) so the error reply can be compressed the way the client expects it. Which
    status a server answers with is the server's business (the bridge: ``http/errors.py``).
    """

    def __init__(self, reason: str, encoding: str = "none"):
        super().__init__(reason)
        self.reason = reason
        self.encoding = encoding


class BodyTooLarge(ProtocolError):
    """The body, or what it decompresses to, is larger than the limit."""
