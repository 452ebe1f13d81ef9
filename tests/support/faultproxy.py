#!/usr/bin/env python3
"""A fault injector in front of ONE real Synapse: a loopback HTTP/1.1 reverse proxy.

It is not a stand-in for the homeserver. Every request that it lets through reaches the real
Synapse of the test stack unchanged, and the answer comes back from there unchanged (bytes as
they arrive, so long-polling sync and streamed media work). All the proxy adds is the faults a
client meets in the field, switched on and off by the test:

  refuse()                 the server is "down": the listening socket is closed (new connects
                           get ECONNREFUSED) and every open connection is cut, held ones too.
  open()                   pass everything through again (same port, so a session signed in
                           through the proxy keeps working).
  hold(pattern, phase)     requests whose path (with query) matches the regex are held:
                           phase "request":  the request arrived, but is not forwarded (the
                                             client waits; kill it now and Synapse never saw it);
                           phase "response": forwarded, Synapse answered, the answer is kept
                                             back (the server has it, the client does not know).
                           A held request whose client goes away is dropped, never forwarded later.
  release()                forget the hold rules and let every held request go on
                           (release(pattern, phase): only those rules and those held requests).
  log                      (method, path, status) of every request so far, thread-safe; status
                           is None while no answer came from Synapse. `records()` gives more
                           (arrival/finish times, whether and where it was held, outcome).
  wait_for(pattern, ...)   block until a matching request has arrived (or is held, or done).

The client is pointed at the proxy as its homeserver, e.g.
  kring-cli login --homeserver http://127.0.0.1:<proxy port> ...
so the SDK talks to it for everything (sliding sync, keys, media, sends).

From pytest (stdlib only, the event loop runs in a background thread):
  with FaultProxy("http://127.0.0.1:7471") as proxy:
      proxy.url  ->  "http://127.0.0.1:2xxxx"

As a script (for benchmarks or by hand), one command per stdin line:
  tests/support/faultproxy.py --upstream http://127.0.0.1:7471 [--port P]
  prints {"url": ...}; then: refuse | open | hold request|response REGEX | release | log | quit
"""
import argparse
import asyncio
import json
import random
import re
import socket
import sys
import threading
import time
from urllib.parse import urlsplit

PHASES = ("request", "response")
_CHUNK = 65536


class Record:
    """One request as the proxy saw it. Unpacks as (method, path, status)."""
    __slots__ = ("n", "method", "path", "status", "arrived", "done", "held", "outcome", "request_bytes",
                 "_release")

    def __init__(self, n, method, path):
        self.n, self.method, self.path, self.status = n, method, path, None
        self.arrived, self.done, self.held, self.outcome = time.monotonic(), None, None, "in flight"
        self.request_bytes = 0
        self._release = None

    def __iter__(self):
        return iter((self.method, self.path, self.status))

    def __repr__(self):
        return (f"<{self.n} {self.method} {self.path} status={self.status} held={self.held} "
                f"outcome={self.outcome}>")


class _Dropped(Exception):
    """The exchange ends here (client gone, server refused); close the connection."""


class _Conn:
    """A client connection with a push-back buffer over its StreamReader."""

    def __init__(self, reader, writer):
        self.reader, self.writer, self.buf = reader, writer, bytearray()
        self.up_reader = self.up_writer = None

    async def _fill(self):
        data = await self.reader.read(_CHUNK)
        if not data:
            raise asyncio.IncompleteReadError(bytes(self.buf), None)
        self.buf += data

    async def readline(self):
        while b"\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise _Dropped("header line too long")
            await self._fill()
        i = self.buf.index(b"\n") + 1
        line = bytes(self.buf[:i])
        del self.buf[:i]
        return line

    async def readexactly(self, n):
        while len(self.buf) < n:
            await self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def abort(self):
        for w in (self.writer, self.up_writer):
            if w is not None:
                w.transport.abort()


def _strict_readline(reader):
    """StreamReader.readline returns b"" at EOF; the parsers want an error instead."""
    async def readline():
        line = await reader.readline()
        if not line.endswith(b"\n"):
            raise asyncio.IncompleteReadError(line, None)
        return line
    return readline


def _parse_headers(lines):
    out = []
    for line in lines:
        name, _, value = line.decode("latin-1").partition(":")
        out.append((name.strip(), value.strip()))
    return out


def _header(headers, name):
    name = name.lower()
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def _tokens(headers, name):
    return {t.strip().lower() for k, v in headers if k.lower() == name.lower() for t in v.split(",")}


async def _read_head(readline):
    """Start line and header lines (raw, for forwarding) of one message; None on EOF before it."""
    try:
        first = await readline()
    except asyncio.IncompleteReadError as e:
        if not e.partial:
            return None
        raise
    while first in (b"\r\n", b"\n"):  # tolerated empty lines between messages (RFC 9112 §2.2)
        first = await readline()
    lines = []
    while True:
        line = await readline()
        if line in (b"\r\n", b"\n"):
            break
        lines.append(line.rstrip(b"\r\n"))
    return first.rstrip(b"\r\n"), lines


async def _body_chunks(readline, readexactly, read_some, headers, until_eof):
    """Yields the raw bytes of a message body (chunk framing kept) as they arrive."""
    if "chunked" in _tokens(headers, "transfer-encoding"):
        while True:
            size_line = await readline()
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                trailer = size_line
                while True:
                    line = await readline()
                    trailer += line
                    if line in (b"\r\n", b"\n"):
                        break
                yield trailer
                return
            yield size_line + await readexactly(size + 2)
        return
    length = _header(headers, "content-length")
    if length is not None:
        remaining = int(length)
        while remaining > 0:
            data = await read_some(min(remaining, _CHUNK))
            if not data:
                raise asyncio.IncompleteReadError(b"", remaining)
            remaining -= len(data)
            yield data
        return
    if until_eof:
        while True:
            data = await read_some(_CHUNK)
            if not data:
                return
            yield data


class FaultProxy:
    def __init__(self, upstream, host="127.0.0.1", port=0):
        u = urlsplit(upstream)
        assert u.scheme == "http" and u.hostname, f"plain http upstream expected, got {upstream!r}"
        self.upstream = (u.hostname, u.port or 80)
        self.host, self.port = host, port or self._free_port(host)
        self._lock = threading.Condition()
        self._records, self._rules = [], []
        self._conns = set()
        self._server = self._loop = self._thread = None
        self._refusing = False

    # ------------------------------------------------------------ lifecycle (any thread)

    @staticmethod
    def _free_port(host):
        """A free port below the kernel's ephemeral range, so no outgoing connection takes it
        while the proxy is refusing (its listener is closed then)."""
        for _ in range(200):
            port = random.randint(20000, 32000)
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind((host, port))
                    return port
                except OSError:
                    continue
        raise RuntimeError("no free port")

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    def start(self):
        ready = threading.Event()

        def run():
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._listen())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name=f"faultproxy:{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fault proxy did not start")
        return self

    def stop(self):
        if self._loop is None:
            return
        self._call(self._refuse)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _call(self, coro_fn, *args):
        return asyncio.run_coroutine_threadsafe(coro_fn(*args), self._loop).result(10)

    # ------------------------------------------------------------ controls (any thread)

    def refuse(self):
        """Server down: refuse connects, cut every open connection (held requests are dropped)."""
        self._call(self._refuse)

    def open(self):
        """Pass everything through again."""
        self._call(self._open)

    def hold(self, pattern, phase="request", method=None):
        """Hold requests whose path matches `pattern` (re.search) at `phase` until release()."""
        assert phase in PHASES, phase
        with self._lock:
            self._rules.append((re.compile(pattern), phase, method))

    def release(self, pattern=None, phase=None):
        """Drop the hold rules and let the held requests go on (a held request whose client is gone
        is dropped). With `pattern` (the same string given to hold) and/or `phase`, only those rules
        and the requests held by them at that phase: e.g. hold a send at "request", add a
        "response" rule for it, then release(pattern, "request") so it goes on and is held again."""
        with self._lock:
            self._rules = [(rx, p, m) for rx, p, m in self._rules
                           if not ((pattern is None or rx.pattern == pattern) and (phase is None or p == phase))]
            events = [r._release for r in self._records if r._release is not None
                      and (pattern is None or re.search(pattern, r.path)) and (phase is None or r.held == phase)]
        for ev in events:
            self._loop.call_soon_threadsafe(ev.set)

    @property
    def log(self):
        with self._lock:
            return [tuple(r) for r in self._records]

    def records(self, pattern=None, since=0):
        with self._lock:
            return [r for r in self._records[since:] if pattern is None or re.search(pattern, r.path)]

    def mark(self):
        """The log's current length: pass as `since` to look only at later requests."""
        with self._lock:
            return len(self._records)

    def wait_for(self, pattern, timeout=30.0, since=0, method=None, held=None, done=False):
        """The first request since `since` whose path matches `pattern` (and method), once it has
        arrived; with held="request"/"response", once it is held there; with done=True, once it is
        finished. Raises TimeoutError."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout

        def found():
            for r in self._records[since:]:
                if rx.search(r.path) and (method is None or r.method == method) \
                        and (held is None or r.held == held) and (not done or r.done is not None):
                    return r
            return None

        with self._lock:
            while True:
                r = found()
                if r is not None:
                    return r
                left = deadline - time.monotonic()
                if left <= 0:
                    tail = "\n  ".join(repr(r) for r in self._records[-15:])
                    raise TimeoutError(f"no request matching {pattern!r} (held={held}, done={done}) "
                                       f"within {timeout}s; last requests:\n  {tail}")
                self._lock.wait(left)

    # ------------------------------------------------------------ the event loop side

    def _update(self, rec, **kw):
        with self._lock:
            for k, v in kw.items():
                setattr(rec, k, v)
            self._lock.notify_all()

    def _hold_phase(self, rec, phase):
        with self._lock:
            return any(p == phase and rx.search(rec.path) and (m is None or m == rec.method)
                       for rx, p, m in self._rules)

    async def _listen(self):
        self._server = await asyncio.start_server(self._client, self.host, self.port, reuse_address=True,
                                                  limit=1 << 20)
        self._refusing = False

    async def _refuse(self):
        self._refusing = True
        if self._server is not None:
            self._server.close()
            self._server = None
        for c in list(self._conns):
            c.abort()

    async def _open(self):
        if self._server is None:
            await self._listen()

    async def _client(self, reader, writer):
        conn = _Conn(reader, writer)
        self._conns.add(conn)
        try:
            while not self._refusing and await self._exchange(conn):
                pass
        except (_Dropped, ConnectionError, asyncio.IncompleteReadError, OSError, ValueError):
            pass
        finally:
            self._conns.discard(conn)
            conn.abort()

    async def _await_release(self, conn, rec, phase):
        """Hold `rec` at `phase` until release(), watching the client: False if it went away."""
        self._update(rec, held=phase, _release=asyncio.Event())
        release = asyncio.ensure_future(rec._release.wait())
        watch = asyncio.ensure_future(conn.reader.read(_CHUNK))
        try:
            while True:
                done, _ = await asyncio.wait({release, watch}, return_when=asyncio.FIRST_COMPLETED)
                if watch in done:
                    try:
                        data = watch.result()
                    except (ConnectionError, OSError):
                        data = b""
                    if not data:
                        return False
                    conn.buf += data  # a pipelined request: keep it, wait on
                    watch = asyncio.ensure_future(conn.reader.read(_CHUNK))
                    continue
                return not self._refusing
        finally:
            for t in (release, watch):
                t.cancel()
            if watch.done() and not watch.cancelled() and watch.exception() is None and watch.result():
                conn.buf += watch.result()
            self._update(rec, _release=None)

    async def _upstream(self, conn):
        if conn.up_writer is not None and (conn.up_reader.at_eof() or conn.up_writer.is_closing()):
            conn.up_writer.transport.abort()
            conn.up_reader = conn.up_writer = None
        if conn.up_writer is None:
            conn.up_reader, conn.up_writer = await asyncio.open_connection(*self.upstream, limit=1 << 20)
        return conn.up_reader, conn.up_writer

    async def _exchange(self, conn):
        """One request and its response. True if the client connection stays open."""
        head = await _read_head(conn.readline)
        if head is None:
            return False
        start, lines = head
        method, target, version = start.decode("latin-1").split(" ", 2)
        headers = _parse_headers(lines)
        with self._lock:
            rec = Record(len(self._records), method, target)
            self._records.append(rec)
            self._lock.notify_all()

        if _header(headers, "expect") and _header(headers, "expect").lower() == "100-continue":
            conn.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            lines = [ln for ln in lines if not ln.lower().startswith(b"expect:")]
        body = b"".join([c async for c in _body_chunks(conn.readline, conn.readexactly,
                                                        self._client_read_some(conn), headers, False)])
        rec.request_bytes = len(body)
        close_after = "close" in _tokens(headers, "connection") or (
            version == "HTTP/1.0" and "keep-alive" not in _tokens(headers, "connection"))

        if self._hold_phase(rec, "request"):
            if not await self._await_release(conn, rec, "request"):
                self._update(rec, outcome="dropped (held at request, client gone or refused)",
                             done=time.monotonic())
                raise _Dropped()
        if self._refusing:
            raise _Dropped()

        try:
            up_r, up_w = await self._upstream(conn)
            up_w.write(start + b"\r\n" + b"".join(ln + b"\r\n" for ln in lines) + b"\r\n" + body)
            await up_w.drain()
            while True:
                rhead = await _read_head(_strict_readline(up_r))
                if rhead is None:
                    raise ConnectionError("upstream closed before answering")
                rstart, rlines = rhead
                status = int(rstart.split(b" ", 2)[1])
                if 100 <= status < 200 and status != 101:
                    continue  # interim answers (100 Continue was given to the client already)
                break
        except (ConnectionError, OSError, asyncio.IncompleteReadError) as e:
            self._update(rec, outcome=f"upstream failed: {e!r}", done=time.monotonic())
            raise _Dropped()
        rheaders = _parse_headers(rlines)
        self._update(rec, status=status)
        no_body = method == "HEAD" or status in (204, 304) or 100 <= status < 200
        until_eof = not no_body and _header(rheaders, "content-length") is None \
            and "chunked" not in _tokens(rheaders, "transfer-encoding")
        up_close = until_eof or "close" in _tokens(rheaders, "connection")
        out_head = rstart + b"\r\n" + b"".join(ln + b"\r\n" for ln in rlines) + b"\r\n"
        chunks = () if no_body else _body_chunks(_strict_readline(up_r), up_r.readexactly, up_r.read, rheaders, until_eof)

        if self._hold_phase(rec, "response"):
            data = out_head + (b"".join([c async for c in chunks]) if chunks else b"")
            if up_close:
                up_w.transport.abort()
                conn.up_reader = conn.up_writer = None
            if not await self._await_release(conn, rec, "response"):
                self._update(rec, outcome="withheld (Synapse answered, client gone or refused)",
                             done=time.monotonic())
                raise _Dropped()
            conn.writer.write(data)
            await conn.writer.drain()
        else:
            conn.writer.write(out_head)
            if chunks:
                async for c in chunks:
                    conn.writer.write(c)
                    await conn.writer.drain()
            await conn.writer.drain()
            if up_close:
                up_w.transport.abort()
                conn.up_reader = conn.up_writer = None
        self._update(rec, outcome="answered", done=time.monotonic())
        return not (close_after or until_eof)

    @staticmethod
    def _client_read_some(conn):
        async def read_some(n):
            if not conn.buf:
                await conn._fill()
            out = bytes(conn.buf[:n])
            del conn.buf[:n]
            return out
        return read_some


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--upstream", required=True, help="the real Synapse, e.g. http://127.0.0.1:7471")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    proxy = FaultProxy(args.upstream, port=args.port).start()
    print(json.dumps({"url": proxy.url}), flush=True)
    try:
        for line in sys.stdin:
            cmd, *rest = line.split(maxsplit=2)
            if cmd == "refuse":
                proxy.refuse()
            elif cmd == "open":
                proxy.open()
            elif cmd == "hold" and len(rest) == 2:
                proxy.hold(rest[1].strip(), rest[0])
            elif cmd == "release":
                proxy.release()
            elif cmd == "log":
                for r in proxy.records():
                    print(json.dumps({"method": r.method, "path": r.path, "status": r.status, "held": r.held,
                                      "outcome": r.outcome}), flush=True)
            elif cmd == "quit":
                break
            else:
                print(json.dumps({"error": f"unknown command {line.strip()!r}"}), flush=True)
                continue
            print(json.dumps({"ok": cmd}), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        proxy.stop()


if __name__ == "__main__":
    main()
