"""The operator view in the admin API: ``GET /api/tasks/<id>/executions[?execution=N&limit=N]``
(the task's executions and each run or slice of one) and ``GET /api/tasks/<id>/wakeups
[?execution=N&limit=N]`` (the wake-ups of its runs).

Same token, error bodies and status codes as the rest of ``/api/`` (``http/admin/definitions.py``): the
blueprint reuses its authentication and error handler.
"""

from __future__ import annotations

from flask import Blueprint, request

from fusion_bridge.http.admin import definitions as admin
from fusion_bridge.services.views import operator_view

bp = Blueprint("admin_executions", __name__, url_prefix="/api")
bp.before_request(admin._authenticate)
bp.register_error_handler(Exception, admin.answer_failure)


@bp.get("/tasks/<int:task_id>/executions")
def task_executions(task_id: int):
    args = request.args
    return admin._json(operator_view.task_executions(admin._engine(), task_id, args.get("execution"),
                                                     args.get("limit")))


@bp.get("/tasks/<int:task_id>/wakeups")
def task_wakeups(task_id: int):
    args = request.args
    return admin._json(operator_view.task_wakeups(admin._engine(), task_id, args.get("execution"),
                                                  args.get("limit")))
