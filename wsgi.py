"""WSGI entry point: ``gunicorn wsgi:app`` (settings from FUSION_BRIDGE_* variables)."""

from fusion_bridge.app import create_app

app = create_app()
