#!/usr/bin/env python3
"""A stand-in for the search API of a Nuts node's Discovery Service client (stdlib only, 127.0.0.1).

Why a stand-in: no Nuts node can run here. nuts-node is a Go program shipped as a Docker image
and release binaries, and it is in none of the package registries these machines reach (Debian,
PyPI, npm, crates.io). So this serves only the one read-only endpoint Kring uses, in the shape of
nuts-node's
`docs/_static/discovery/v1.yaml` (SearchResult), with registrations from a JSON file. It checks
no signatures and holds no real Verifiable Presentations: `vp` is a short placeholder.

GET /internal/discovery/v1/{service_id}?<credential path>=<value>&...
    -> 200 [SearchResult, ...]: {id, credential_subject_id, vp, fields, registrationParameters}
    Each query key is a path into a credential of the presentation (for example
    credentialSubject.organization.ura, credentialSubject.fhirBaseURL); all keys must match
    one credential. A value may be `*` (any non-empty value), `prefix*` or `*suffix`.
    Unknown service -> 404 application/problem+json.
GET /health -> {"status": "UP"}

Config (written by stackctl): {"services": {"<service_id>": [{"subject": did, "organization":
{"name", "ura", "city"}, "registrationParameters": {"fhirBaseURL": ...}}, ...]}}
Usage: discovery.py --port 8520 --config <stack>/nuts/config.json
"""
import argparse
import json
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

PREFIX = "/internal/discovery/v1/"


def presentation(reg):
    """The credentials a registration's presentation would carry (unsigned, for matching only)."""
    subject = reg["subject"]
    return [
        {"type": ["VerifiableCredential", "NutsUraCredential"],
         "credentialSubject": {"id": subject, "organization": reg["organization"]}},
        {"type": ["VerifiableCredential", "DiscoveryRegistrationCredential"],
         "credentialSubject": {"id": subject, **reg["registrationParameters"]}},
    ]


def lookup(doc, path):
    for part in path.split("."):
        if not isinstance(doc, dict) or part not in doc:
            return None
        doc = doc[part]
    return doc if isinstance(doc, str) else None  # only string properties can be queried


def matches(value, pattern):
    if value is None:
        return False
    if pattern == "*":
        return value != ""
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    return value == pattern


def search_result(service, reg):
    org = reg["organization"]
    return {
        "id": f"{reg['subject']}#{uuid.uuid5(uuid.NAMESPACE_URL, service + reg['subject'])}",
        "credential_subject_id": reg["subject"],
        "vp": {"type": ["VerifiablePresentation"], "holder": reg["subject"],
               "_comment": "placeholder: the Kring test stack's Nuts stand-in holds no signed presentation"},
        "fields": {"organization_name": org["name"], "organization_ura": org["ura"],
                   "organization_city": org.get("city")},
        "registrationParameters": dict(reg["registrationParameters"]),
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    services = {}

    def _send(self, status, body, content_type="application/json"):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _problem(self, status, title, detail):
        self._send(status, {"title": title, "status": status, "detail": detail}, "application/problem+json")

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path == "/health":
            return self._send(200, {"status": "UP"})
        if not url.path.startswith(PREFIX) or "/" in url.path[len(PREFIX):].strip("/"):
            return self._problem(404, "Not Found", f"no such endpoint: {url.path}")
        service = url.path[len(PREFIX):].strip("/")
        if service not in self.services:
            return self._problem(404, "Service not found", f"discovery service not found: {service}")
        query = parse_qsl(url.query, keep_blank_values=True)
        found = [search_result(service, reg) for reg in self.services[service]
                 if any(all(matches(lookup(vc, k), v) for k, v in query) for vc in presentation(reg))]
        self._send(200, found)

    def log_message(self, fmt, *args):
        print("nuts:", fmt % args, flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--config", required=True)
    a = p.parse_args()
    with open(a.config, encoding="utf-8") as f:
        Handler.services = json.load(f)["services"]
    print(f"nuts discovery stand-in on http://127.0.0.1:{a.port}{PREFIX}{{{', '.join(Handler.services)}}}", flush=True)
    ThreadingHTTPServer(("127.0.0.1", a.port), Handler).serve_forever()
