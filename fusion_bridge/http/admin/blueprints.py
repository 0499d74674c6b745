"""A blueprint of the admin API under ``/api/``, for the modules of each domain: the token check
and the error replies of ``http/admin/definitions.py`` (``Authorization: Bearer <token>``; JSON
``{"error": ...}``, statuses from the one table in ``http/errors.py``).
"""

from __future__ import annotations

from flask import Blueprint

from fusion_bridge.http.admin import definitions as admin


def admin_blueprint(name: str, url_prefix: str) -> Blueprint:
    bp = Blueprint(name, admin.__name__, url_prefix=url_prefix)
    bp.before_request(admin._authenticate)
    bp.register_error_handler(Exception, admin.answer_failure)
    return bp
