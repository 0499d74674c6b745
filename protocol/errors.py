"""Errors raised by the codec. Each carries a reason fit to send back to the agent."""


class ProtocolError(ValueError):
    """A request the codec refuses.

    ``encoding`` is the body encoding detected before the failure (``"zlib"``, ``"gzip"`` or
    ``"none"``) so the error reply can be compressed the way the client expects it.
    ``status`` is the HTTP status a server should answer with.
    """

    def __init__(self, reason: str, encoding: str = "none", status: int = 400):
        super().__init__(reason)
        self.reason = reason
        self.encoding = encoding
        self.status = status


class BodyTooLarge(ProtocolError):
    def __init__(self, reason: str, encoding: str = "none"):
        super().__init__(reason, encoding, status=413)
