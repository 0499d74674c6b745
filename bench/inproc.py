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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import schema  # noqa: E402
from fusion_bridge.app import create_app  # noqa: E402
from fusion_bridge.adapters.db import make_engine  # noqa: E402
from tests.helpers.mariadb import MariaDBServer  # noqa: E402

PROLOG = (b'<?xml version="1.0" encoding="UTF-8" ?>\n<REQUEST>\n  <DEVICEID>%s</DEVICEID>\n'
          b"  <QUERY>PROLOG</QUERY>\n  <TOKEN>12345678</TOKEN>\n</REQUEST>\n")


def environ(body: bytes) -> dict:
    return {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/plugins/fusioninventory/", "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "CONTENT_TYPE": "application/x-compress-zlib",
        "CONTENT_LENGTH": str(len(body)), "HTTP_USER_AGENT": "FusionInventory-Agent_v2.6-3",
        "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
        "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def call(app, body: bytes) -> None:
    status = []
    chunks = app(environ(body), lambda s, h, e=None: status.append(s))
    b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    assert status[0].startswith("200"), status


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database")
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    server = None
    url = args.database
    if url is None:
        server = MariaDBServer()
        url = server.create_database("fb_inproc")
    try:
        engine = make_engine(url)
        schema.init_database(engine)
        engine.dispose()
        app = create_app({"DATABASE_URL": url})
        bodies = [zlib.compress(PROLOG % (b"inproc%05d-2026-11-25-10-00-00" % i)) for i in range(args.agents)]
        for body in bodies:
            call(app, body)  # register the agents
        profiler = cProfile.Profile() if args.profile else None
        started_cpu = resource.getrusage(resource.RUSAGE_SELF).ru_utime + resource.getrusage(resource.RUSAGE_SELF).ru_stime
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        for i in range(args.requests):
            call(app, bodies[i % len(bodies)])
        if profiler:
            profiler.disable()
        wall = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = usage.ru_utime + usage.ru_stime - started_cpu
        print(f"{args.requests} PROLOGs of known agents: {wall / args.requests * 1e6:.0f} µs wall, "
              f"{cpu / args.requests * 1e6:.0f} µs client CPU per request")
        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
    finally:
        if server is not None:
            server.drop_database(url)
            server.stop()


if __name__ == "__main__":
    main()
