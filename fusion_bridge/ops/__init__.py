"""Running the bridge in production: metrics, health, logs, TLS, the run directory of ``serve``.

- ``settings``: the ``FUSION_BRIDGE_*`` variables of this package (metrics, logs, TLS).
- ``metrics``: Prometheus counters and histograms recorded by every process of one ``serve``
  (multiprocess mode), and the gauges computed from the database when ``/metrics`` is scraped.
- ``health``: ``/healthz`` (the process answers) and ``/readyz`` (database, schema, scheduler
  heartbeat, and the checks other parts register).
- ``logging_setup``: text or JSON log lines, the request id in every line of a request.
- ``wsgi``: the outermost WSGI layer: request id, per-request metrics and access log line,
  and the ``/metrics``, ``/healthz``, ``/readyz`` endpoints (answered before Flask).
- ``runtime``: what ``serve`` sets up before gunicorn forks (the run directory shared by the
  workers and the scheduler child, gunicorn's hooks and logger) and its start-up banner.

None of these modules imports Flask.
"""
