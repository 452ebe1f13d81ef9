#!/usr/bin/env python3
"""SMTP sink of the Kring test stack: a real SMTP server (aiosmtpd) on 127.0.0.1 that delivers
every message into a folder, one .eml file each, named by arrival (000001-<to>.eml), for the
tests to read. An HTTP side port answers /health for stackctl.

Usage: sink.py --port P --http-port H --dir DIR
"""
import argparse
import itertools
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller


class Deliver:
    def __init__(self, folder):
        self.folder = folder
        existing = sorted(folder.glob("*.eml"))
        start = int(existing[-1].name.split("-", 1)[0]) + 1 if existing else 1
        self.counter = itertools.count(start)

    async def handle_DATA(self, server, session, envelope):
        for rcpt in envelope.rcpt_tos:
            n = next(self.counter)
            safe = "".join(c if c.isalnum() or c in "@.-_" else "_" for c in rcpt)
            tmp = self.folder / f".{n:06d}.tmp"
            tmp.write_bytes(envelope.original_content or envelope.content)
            tmp.rename(self.folder / f"{n:06d}-{safe}.eml")  # whole files only: readers never see half a mail
        return "250 Message accepted for delivery"


class Health(BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.path == "/health"
        self.send_response(200 if ok else 404)
        self.end_headers()
        self.wfile.write(b"ok" if ok else b"")

    def log_message(self, *args):
        pass


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--http-port", type=int, required=True)
    p.add_argument("--dir", required=True)
    a = p.parse_args()
    folder = Path(a.dir)
    folder.mkdir(parents=True, exist_ok=True)
    controller = Controller(Deliver(folder), hostname="127.0.0.1", port=a.port)
    controller.start()
    http = ThreadingHTTPServer(("127.0.0.1", a.http_port), Health)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    print(f"smtp sink on 127.0.0.1:{a.port}, mail into {folder}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
