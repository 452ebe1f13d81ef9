#!/usr/bin/env python3
"""A recording Matrix push gateway for tests (stdlib only, 127.0.0.1).

POST /_matrix/push/v1/notify  -> {"rejected": []}; the JSON body is recorded
GET /_recorded                -> list of recorded bodies
DELETE /_recorded             -> clears the list
Usage: receiver.py --port 8510
"""
import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

recorded = []
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Synapse's HTTP client expects

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))  # Synapse needs it
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        if self.path != "/_matrix/push/v1/notify":
            return self._send(404, {"errcode": "M_UNRECOGNIZED"})
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            return self._send(400, {"errcode": "M_NOT_JSON"})
        with lock:
            recorded.append(body)
        self._send(200, {"rejected": []})

    def do_GET(self):
        if self.path != "/_recorded":
            return self._send(404, {"errcode": "M_UNRECOGNIZED"})
        with lock:
            self._send(200, list(recorded))

    def do_DELETE(self):
        if self.path != "/_recorded":
            return self._send(404, {"errcode": "M_UNRECOGNIZED"})
        with lock:
            recorded.clear()
        self._send(200, {})

    def log_message(self, fmt, *args):
        print("push:", fmt % args, flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    port = p.parse_args().port
    print(f"push gateway receiver on http://127.0.0.1:{port}", flush=True)
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
