"""WSGI entry point: ``gunicorn wsgi:app`` (settings from FUSION_BRIDGE_* variables)."""

from fusion_bridge import create_app

app = create_app()
