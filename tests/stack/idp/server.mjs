// Organisation IdP for the Kring test stack: oidc-provider (OpenID Certified) on plain HTTP,
// 127.0.0.1 only. Accounts, clients and keys come from a JSON file that stackctl writes.
// Its login page is a plain HTML form so tests can drive it with HTTP POSTs; consent is
// granted automatically. "Annuleren" ends the request with access_denied at the client's
// redirect URI. Claims come from the account as they are: an account without `ura` gets
// no ura claim.   Usage: node idp/server.mjs --config <stack>/idp/config.json
//
// With `registration` in the config it is the care platform's IdP for related persons and
// clients (001 §3: "email + wachtwoord + 2FA"): anyone may make an account at /register with an
// e-mail address and a password, and must then enrol an authenticator app (TOTP, RFC 6238, by
// the otpauth library); every login asks for its current code after the password. Registered
// accounts are kept in `registration.store` (JSON), so a restart keeps them.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import Provider from 'oidc-provider';
import * as OTPAuth from 'otpauth';

const { values: args } = parseArgs({ options: { config: { type: 'string' } } });
const cfg = JSON.parse(readFileSync(args.config, 'utf8'));
const issuer = new URL(cfg.issuer);
const accounts = new Map(cfg.accounts.map((a) => [a.sub, a]));
const byUsername = new Map(cfg.accounts.map((a) => [a.preferred_username, a]));
const registration = cfg.registration ?? null;
// Registered accounts: { sub, email, name, preferred_username, password, totp_secret, active }.
const registered = registration && existsSync(registration.store)
  ? JSON.parse(readFileSync(registration.store, 'utf8')) : [];
for (const a of registered) {
  accounts.set(a.sub, a);
  byUsername.set(a.email, a);
}
function saveRegistered() {
  const tmp = `${registration.store}.tmp`;
  writeFileSync(tmp, JSON.stringify(registered, null, 2));
  renameSync(tmp, registration.store);
}
const totpOf = (a) => new OTPAuth.TOTP({
  issuer: cfg.name, label: a.email, algorithm: 'SHA1', digits: 6, period: 30,
  secret: OTPAuth.Secret.fromBase32(a.totp_secret),
});
// A code is good once: a second login with the same code in the same window is refused.
const usedCodes = new Map();
function codeAccepted(a, code) {
  const delta = totpOf(a).validate({ token: String(code ?? '').trim(), window: 1 });
  if (delta === null) return false;
  const key = `${a.sub}:${Math.floor(Date.now() / 30000) + delta}`;
  if (usedCodes.has(key)) return false;
  usedCodes.set(key, Date.now());
  return true;
}
// Interactions whose password was right and whose code is still to come.
const awaitingCode = new Map();

const provider = new Provider(cfg.issuer, {
  clients: cfg.clients,
  jwks: cfg.jwks,
  cookies: { keys: cfg.cookie_keys },
  scopes: ['openid', 'offline_access', 'profile', 'uzi', 'email'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    uzi: ['uzi', 'ura', 'role_code'],
    email: ['email', 'email_verified'],
  },
  // Put the scope's claims in the ID token too: Synapse reads them from there.
  conformIdTokenClaims: false,
  async findAccount(_ctx, sub) {
    const a = accounts.get(sub);
    if (!a) return undefined;
    return {
      accountId: sub,
      async claims() {
        const { password: _pw, totp_secret: _t, active: _a, ...claims } = a;
        return a.email ? { ...claims, email_verified: false } : claims;
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

function page(res, status, title, body) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!doctype html><html lang="nl"><head><meta charset="utf-8"><title>${esc(title)}</title></head>
<body><h1>${esc(title)}</h1>${body}</body></html>`);
}

function codePage(res, uid, error) {
  page(res, error ? 401 : 200, 'Tweede stap', `${error ? `<p role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/totp">
<label>Code uit uw authenticator-app <input name="code" inputmode="numeric" autocomplete="one-time-code" required></label>
<button type="submit">Doorgaan</button></form>`);
}

// Self-registration (care platform only): e-mail + password, then enrolment of the second factor.
async function register(req, res, url) {
  if (!registration) return page(res, 404, 'Niet gevonden', '');
  if (req.method === 'GET' && url.pathname === '/register') {
    const email = url.searchParams.get('email') ?? '';
    return page(res, 200, `Account aanmaken bij ${cfg.name}`, `<form method="post" action="/register">
<label>E-mailadres <input name="email" type="email" value="${esc(email)}" autocomplete="email" required></label>
<label>Uw naam <input name="name" autocomplete="name" required></label>
<label>Wachtwoord (minstens 10 tekens) <input name="password" type="password" autocomplete="new-password" minlength="10" required></label>
<button type="submit">Account aanmaken</button></form>`);
  }
  const form = await readForm(req);
  if (req.method === 'POST' && url.pathname === '/register') {
    const email = (form.get('email') ?? '').trim().toLowerCase();
    const name = (form.get('name') ?? '').trim();
    const password = form.get('password') ?? '';
    const err = !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email) ? 'Dit is geen e-mailadres.'
      : password.length < 10 ? 'Kies een wachtwoord van minstens 10 tekens.'
      : !name ? 'Vul uw naam in.'
      : byUsername.get(email)?.active ? 'Er is al een account met dit e-mailadres.' : null;
    if (err) return page(res, 400, 'Account aanmaken', `<p role="alert">${esc(err)}</p>`);
    const sub = `mz-${randomBytes(5).toString('hex')}`;
    const account = { sub, email, name, preferred_username: sub, password,
      totp_secret: new OTPAuth.Secret({ size: 20 }).base32, active: false };
    const old = registered.findIndex((a) => a.email === email);
    if (old >= 0) registered.splice(old, 1);
    registered.push(account);
    accounts.set(sub, account);
    byUsername.set(email, account);
    saveRegistered();
    return page(res, 200, 'Tweede stap instellen', `<p>Voeg dit account toe aan uw authenticator-app (scan de code of typ de sleutel over).</p>
<p>Sleutel: <code id="totp-secret">${esc(account.totp_secret)}</code></p>
<p><a id="totp-uri" href="${esc(totpOf(account).toString())}">Openen in authenticator-app</a></p>
<form method="post" action="/register/confirm"><input type="hidden" name="email" value="${esc(email)}">
<label>Code uit de app <input name="code" inputmode="numeric" autocomplete="one-time-code" required></label>
<button type="submit">Bevestigen</button></form>`);
  }
  if (req.method === 'POST' && url.pathname === '/register/confirm') {
    const account = byUsername.get((form.get('email') ?? '').trim().toLowerCase());
    if (!account || account.active !== false) return page(res, 400, 'Tweede stap instellen', '<p role="alert">Begin opnieuw.</p>');
    if (!codeAccepted(account, form.get('code'))) {
      return page(res, 400, 'Tweede stap instellen', '<p role="alert">Deze code klopt niet. Probeer de volgende.</p>');
    }
    account.active = true;
    saveRegistered();
    return page(res, 200, 'Account aangemaakt', '<p role="status">Uw account is klaar. Log nu in bij Kring met dit e-mailadres.</p>');
  }
  return page(res, 405, 'Niet toegestaan', '');
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
    if (!account || account.password !== form.get('password') || account.active === false) {
      return loginPage(res, uid, details.params.client_id, 'Onbekende gebruikersnaam of wachtwoord.');
    }
    if (account.totp_secret) {
      awaitingCode.set(uid, account.sub);
      return codePage(res, uid);
    }
    return provider.interactionFinished(req, res, { login: { accountId: account.sub } }, { mergeWithLastSubmission: false });
  }
  if (req.method === 'POST' && action === 'totp') {
    const form = await readForm(req);
    const account = accounts.get(awaitingCode.get(uid));
    if (!account) return loginPage(res, uid, details.params.client_id, 'Log eerst in met uw wachtwoord.');
    if (!codeAccepted(account, form.get('code'))) return codePage(res, uid, 'Deze code klopt niet. Probeer de volgende.');
    awaitingCode.delete(uid);
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
  if (url.pathname === '/register' || url.pathname === '/register/confirm') {
    register(req, res, url).catch((err) => {
      console.error('registration error:', err.message);
      if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('registration failed');
    });
    return;
  }
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
