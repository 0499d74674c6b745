"""In-process cost of one PROLOG through the WSGI app (no HTTP server, no load generator).

Usage: python bench/inproc.py [--database URL] [--agents 500] [--requests 5000] [--profile]
Without --database a fresh MariaDB database is made (and dropped) on 127.0.0.1:3306.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import resource
import sys
import time
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import schema  # noqa: E402
from fusion_bridge.app import create_app  # noqa: E402
from fusion_bridge.adapters.db import make_engine  # noqa: E402
from tests.helpers.mariadb import MariaDBServer  # noqa: E402

PROLOG = (b'<?xml version="1.0" encoding="UTF-8" ?>\n<REQUEST>\n  <DEVICEID>%s</DEVICEID>\n'
          b"  <QUERY>PROLOG</QUERY>\n  <TOKEN>12345678</TOKEN>\n</REQUEST>\n")


def wsgi_environ(method: str, path: str, query: str = "", body: bytes = b"", **headers: str) -> dict:
    """A WSGI request of the real agent's (its User-Agent) from 127.0.0.1; ``headers`` are more
    environ keys (``CONTENT_TYPE``, ``HTTP_HOST``...)."""
    return {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "CONTENT_LENGTH": str(len(body)),
        "HTTP_USER_AGENT": "FusionInventory-Agent_v2.6-3", **headers,
        "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
        "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def call_app(app, environ: dict) -> bytes:
    """The body of the app's answer, which must be a 200."""
    status = []
    chunks = app(environ, lambda s, h, e=None: status.append(s))
    body = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    assert status[0].startswith("200"), (status, body)
    return body


def call(app, body: bytes) -> None:
    """One zlib PROLOG."""
    call_app(app, wsgi_environ("POST", "/plugins/fusioninventory/", body=body,
                               CONTENT_TYPE="application/x-compress-zlib"))


def cpu_now() -> float:
    """CPU seconds of this process so far (user and system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextmanager
def bench_database(url: str | None, name: str) -> Iterator[str]:
    """``url``, or a fresh MariaDB database ``name`` on 127.0.0.1:3306, dropped at the end."""
    if url is not None:
        yield url
        return
    server = MariaDBServer()
    url = server.create_database(name)
    try:
        yield url
    finally:
        server.drop_database(url)
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database")
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    with bench_database(args.database, "fb_inproc") as url:
        engine = make_engine(url)
        schema.init_database(engine)
        engine.dispose()
        app = create_app({"DATABASE_URL": url})
        bodies = [zlib.compress(PROLOG % (b"inproc%05d-2026-11-25-10-00-00" % i)) for i in range(args.agents)]
        for body in bodies:
            call(app, body)  # register the agents
        profiler = cProfile.Profile() if args.profile else None
        started_cpu = cpu_now()
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        for i in range(args.requests):
            call(app, bodies[i % len(bodies)])
        if profiler:
            profiler.disable()
        wall = time.perf_counter() - started
        cpu = cpu_now() - started_cpu
        print(f"{args.requests} PROLOGs of known agents: {wall / args.requests * 1e6:.0f} µs wall, "
              f"{cpu / args.requests * 1e6:.0f} µs client CPU per request")
        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)


if __name__ == "__main__":
    main()
