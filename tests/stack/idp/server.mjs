// Organisation IdP for the Kring test stack: oidc-provider (OpenID Certified) on plain HTTP,
// 127.0.0.1 only. Accounts, clients and keys come from a JSON file that stackctl writes.
// Its login page is a plain HTML form so tests can drive it with HTTP POSTs; consent is
// granted automatically. "Annuleren" ends the request with access_denied at the client's
// redirect URI. Claims come from the account as they are: an account without `ura` gets
// no ura claim.   Usage: node idp/server.mjs --config <stack>/idp/config.json
import http from 'node:http';
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const { values: args } = parseArgs({ options: { config: { type: 'string' } } });
const cfg = JSON.parse(readFileSync(args.config, 'utf8'));
const issuer = new URL(cfg.issuer);
const accounts = new Map(cfg.accounts.map((a) => [a.sub, a]));
const byUsername = new Map(cfg.accounts.map((a) => [a.preferred_username, a]));

const provider = new Provider(cfg.issuer, {
  clients: cfg.clients,
  jwks: cfg.jwks,
  cookies: { keys: cfg.cookie_keys },
  scopes: ['openid', 'offline_access', 'profile', 'uzi'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    uzi: ['uzi', 'ura', 'role_code'],
  },
  // Put the scope's claims in the ID token too: Synapse reads them from there.
  conformIdTokenClaims: false,
  async findAccount(_ctx, sub) {
    const a = accounts.get(sub);
    if (!a) return undefined;
    return {
      accountId: sub,
      async claims() {
        const { password: _pw, ...claims } = a;
        return claims;
      },
    };
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  features: { devInteractions: { enabled: false }, revocation: { enabled: true } },
  pkce: { required: (_ctx, client) => client.clientAuthMethod === 'none' },
  clientBasedCORS: () => true,
  ttl: { AccessToken: 3600, AuthorizationCode: 300, IdToken: 3600, RefreshToken: 14 * 24 * 3600, Interaction: 3600, Session: 14 * 24 * 3600, Grant: 14 * 24 * 3600 },
});

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(res, uid, clientId, error) {
  const html = `<!doctype html><html lang="nl"><head><meta charset="utf-8"><title>Inloggen</title></head>
<body><h1>Inloggen bij ${esc(cfg.name)}</h1><p>Applicatie: ${esc(clientId)}</p>
${error ? `<p role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login">
<label>Gebruikersnaam <input name="username" autocomplete="username" required></label>
<label>Wachtwoord <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Inloggen</button></form>
<form method="post" action="/interaction/${esc(uid)}/abort"><button type="submit">Annuleren</button></form></body></html>`;
  res.writeHead(error ? 401 : 200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

async function readForm(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

// Consent is not a test subject here: grant whatever the client asked for.
async function grantConsent(req, res, details) {
  const { prompt, params, session, grantId } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const missing = prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
}

async function interaction(req, res, url) {
  const [, , uid, action] = url.pathname.split('/');
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  if (req.method === 'GET' && !action) {
    if (details.prompt.name === 'consent') return grantConsent(req, res, details);
    return loginPage(res, uid, details.params.client_id);
  }
  if (req.method === 'POST' && action === 'login') {
    const form = await readForm(req);
    const account = byUsername.get(form.get('username') ?? '');
    if (!account || account.password !== form.get('password')) {
      return loginPage(res, uid, details.params.client_id, 'Onbekende gebruikersnaam of wachtwoord.');
    }
    return provider.interactionFinished(req, res, { login: { accountId: account.sub } }, { mergeWithLastSubmission: false });
  }
  if (req.method === 'POST' && action === 'abort') {
    await readForm(req);
    return provider.interactionFinished(req, res,
      { error: 'access_denied', error_description: 'Inloggen geannuleerd' }, { mergeWithLastSubmission: false });
  }
  res.writeHead(405).end();
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  const url = new URL(req.url, cfg.issuer);
  if (url.pathname.startsWith('/interaction/')) {
    interaction(req, res, url).catch((err) => {
      console.error('interaction error:', err);
      if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(String(err.message ?? err));
    });
    return;
  }
  callback(req, res);
});
server.listen(Number(issuer.port), '127.0.0.1', () => console.log(`idp ${cfg.name} listening, issuer ${cfg.issuer}`));
