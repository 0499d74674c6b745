"""Codec cost per PROLOG: decode (decompress + parse) and encode (reply + compress).

Usage: python bench/codec.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import timeit
import zlib
from pathlib import Path

import protocol

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "cases" / "prolog_zlib_send"


def prolog_body() -> bytes:
    for candidate in (FIXTURE / "request.body",):
        if candidate.exists():
            return candidate.read_bytes()
    return zlib.compress(b'<?xml version="1.0" encoding="UTF-8" ?>\n<REQUEST>\n  <DEVICEID>vm-2026-11-25-14-54-18'
                         b"</DEVICEID>\n  <QUERY>PROLOG</QUERY>\n  <TOKEN>12345678</TOKEN>\n</REQUEST>\n")


def measure(function, number: int, repeat: int) -> float:
    """Median microseconds per call."""
    runs = timeit.repeat(function, number=number, repeat=repeat)
    return statistics.median(runs) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--number", type=int, default=20000)
    args = parser.parse_args()
    body = prolog_body()
    decode = lambda: protocol.decode_request(body, "application/x-compress-zlib")  # noqa: E731

    def reply() -> bytes:
        return protocol.write_reply(protocol.PrologReply(send_inventory=True, prolog_freq="24"))

    encode = lambda: protocol.encode_reply(reply(), protocol.ZLIB)  # noqa: E731

    def both():
        decoded = protocol.decode_request(body, "application/x-compress-zlib")
        protocol.encode_reply(reply(), decoded.encoding)

    results = {name: measure(fn, args.number, args.repeat) for name, fn in
               (("decode", decode), ("encode", encode), ("decode+encode", both))}
    for name, micros in results.items():
        print(f"{name:14s} {micros:7.1f} µs")


if __name__ == "__main__":
    main()
