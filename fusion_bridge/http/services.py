"""The worker's services (``bootstrap.Services``), as the views reach them."""

from __future__ import annotations

from flask import current_app

from fusion_bridge.bootstrap import Services

EXTENSION = "fusion_bridge"  # the app.extensions key create_app stores them under


def services() -> Services:
    return current_app.extensions[EXTENSION]
