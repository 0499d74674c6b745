"""The JSON admin API under ``/api/``: one blueprint module per domain, the token check and error replies shared (``blueprints``)."""
