"""A blueprint of the admin API under ``/api/``: the token check and error replies of
``http/admin.py`` (``Authorization: Bearer <token>``; JSON ``{"error": ...}`` with 400 bad input,
401 bad token, 404 unknown id, 503 database unavailable), for the modules of each domain.
"""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from fusion_bridge.http import admin
from fusion_bridge.services.admin.base import DefinitionError, NotFound


def admin_blueprint(name: str, url_prefix: str) -> Blueprint:
    bp = Blueprint(name, admin.__name__, url_prefix=url_prefix)
    bp.before_request(admin._authenticate)
    # Most specific first: Flask picks the handler of the nearest class in the exception's MRO.
    for error_class, handler in ((NotFound, admin._not_found), (DefinitionError, admin._invalid),
                                 (HTTPException, admin._http_error), (DBAPIError, admin._database_error),
                                 (Exception, admin._unexpected)):
        bp.register_error_handler(error_class, handler)
    return bp
