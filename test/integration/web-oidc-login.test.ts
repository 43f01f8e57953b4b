/**
 * The web role's OIDC login at the HTTP level, against a real provider
 * (oidc-provider, test/support/oidc-provider-process.mjs), as a public client
 * (no secret: PKCE alone protects the code): what the login asks the provider
 * for, the code exchange and the one-time hand-off of the session, a code used
 * twice, and a provider that is down. The browser's view of the same flow is
 * test/e2e/web-oidc-sign-in.test.ts.
 */
import { decodeJwt } from 'jose';
import { unique } from '../support/kafka';
import { startOidcProvider, type RunningOidcProvider } from '../support/oidc-provider';
import { freePort, startRole, type RoleProcess } from '../../app/chaos/role-process';

jest.setTimeout(180_000);

const run = unique('oidc-http');
const LOGIN = `lin-${run}`;
const COOKIE_KEY = 'c3'.repeat(32);
let provider: RunningOidcProvider;
let web: RoleProcess;
let webUrl: string;

beforeAll(async () => {
  const webPort = await freePort();
  webUrl = `http://127.0.0.1:${webPort}`;
  provider = await startOidcProvider({
    clients: [{ client_id: 'restaurant-spa', redirect_uris: [`${webUrl}/auth/callback`], post_logout_redirect_uris: [`${webUrl}/`] }],
    accounts: { [LOGIN]: { name: 'Lin Chen', email: `${run}@example.com`, roles: ['courier'] } },
    audience: 'restaurant',
    resource: 'urn:restaurant:api',
    rolesClaim: ['roles'],
    host: '127.0.0.1',
  });
  web = await startRole('web', {
    WEB_PORT: String(webPort),
    AUTH_JWKS_URL: provider.jwksUrl,
    AUTH_ISSUER: provider.issuer,
    AUTH_AUDIENCE: 'restaurant',
    WEB_OIDC_CLIENT_ID: 'restaurant-spa',
    WEB_OIDC_COOKIE_KEY: COOKIE_KEY,
  });
});

afterAll(async () => {
  await web?.stop();
  await provider?.stop();
});

/** A cookie jar per site, enough for these two servers (names are unique across their paths). */
class Jar {
  private readonly cookies = new Map<string, string>();
  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /max-age=0\b/i.test(line) || /expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  get(name: string): string | undefined {
    return this.cookies.get(name);
  }
}

async function get(url: string, jar: Jar): Promise<Response> {
  const res = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header() } });
  jar.take(res);
  return res;
}

async function postForm(url: string, jar: Jar, form: Record<string, string>): Promise<Response> {
  const res = await fetch(url, { method: 'POST', redirect: 'manual', headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
  jar.take(res);
  return res;
}

const location = (res: Response, base: string): string => new URL(res.headers.get('location') ?? '', base).toString();

/** Follows the provider's redirects and answers its login and consent forms until it sends the browser back to the app. */
async function throughProvider(start: string, jar: Jar): Promise<string> {
  let url = start;
  for (let step = 0; step < 12; step += 1) {
    if (url.startsWith(webUrl)) return url;
    const res = await get(url, jar);
    if (res.status >= 300 && res.status < 400) {
      url = location(res, url);
      continue;
    }
    const html = await res.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (res.status !== 200 || action === undefined) throw new Error(`the provider answered ${res.status} at ${url}: ${html.slice(0, 500)}`);
    const form: Record<string, string> = html.includes('name="login"') ? { prompt: 'login', login: LOGIN, password: 'any password' } : { prompt: 'consent' };
    const posted = await postForm(new URL(action, url).toString(), jar, form);
    url = location(posted, url);
  }
  throw new Error('the provider did not send the browser back within 12 steps');
}

it('asks for a code with PKCE (S256), state and nonce; the code becomes a session the tab collects once', async () => {
  const app = new Jar();
  const providerJar = new Jar();
  const login = await get(`${webUrl}/auth/login`, app);
  expect(login.status).toBe(302);
  expect(login.headers.get('cache-control')).toBe('no-store');
  const authorize = new URL(location(login, webUrl));
  expect(authorize.origin).toBe(provider.issuer);
  const params = authorize.searchParams;
  expect(params.get('response_type')).toBe('code');
  expect(params.get('client_id')).toBe('restaurant-spa');
  expect(params.get('redirect_uri')).toBe(`${webUrl}/auth/callback`);
  expect(params.get('scope')).toBe('openid profile email');
  expect(params.get('code_challenge_method')).toBe('S256');
  expect(params.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(params.get('state')).toMatch(/^[A-Za-z0-9_-]{32,}$/);
  expect(params.get('nonce')).toMatch(/^[A-Za-z0-9_-]{32,}$/);
  // The verifier, state and nonce travel only in the sealed, HttpOnly flow cookie, which names none of them readably.
  const flowCookie = login.headers.getSetCookie().find((c) => c.startsWith(`restaurant_oidc_flow_${params.get('state') ?? ''}=`));
  expect(flowCookie).toMatch(/HttpOnly/);
  expect(flowCookie).toMatch(/SameSite=Lax/);
  expect(flowCookie).toMatch(/Path=\/auth\/callback/);
  expect(flowCookie?.split(';')[0]?.split('=')[1]).not.toContain(params.get('state') ?? 'no state');

  const callback = await throughProvider(authorize.toString(), providerJar);
  expect(new URL(callback).searchParams.get('state')).toBe(params.get('state'));
  const flowName = `restaurant_oidc_flow_${params.get('state') ?? ''}`;
  const flowValue = app.get(flowName);
  const back = await get(callback, app);
  expect(back.status).toBe(302);
  const handoff = /^\/#\/signed-in\?handoff=([A-Za-z0-9_-]{32})$/.exec(back.headers.get('location') ?? '')?.[1];
  expect(handoff).toEqual(expect.any(String));
  expect(app.get(flowName)).toBeUndefined();

  // The hand-off: once.
  const collect = (): Promise<Response> => fetch(`${webUrl}/auth/session?handoff=${handoff ?? ''}`, { method: 'POST', headers: { cookie: app.header() } });
  const first = await collect();
  expect(first.status).toBe(200);
  const session = (await first.json()) as { token: string; subject: string; roles: string[]; expiresAt: number; signOutUrl: string; profile: { name?: string; email?: string } };
  expect(session).toMatchObject({ subject: LOGIN, roles: ['courier'], signOutUrl: '/auth/logout', profile: { name: 'Lin Chen', email: `${run}@example.com` } });
  expect(decodeJwt(session.token)).toMatchObject({ iss: provider.issuer, aud: 'restaurant', sub: LOGIN });
  expect(session.expiresAt).toBe((decodeJwt(session.token).exp ?? 0) * 1000);
  app.take(first);
  const again = await collect();
  expect(again.status).toBe(401);
  expect(((await again.json()) as { error: { code: string } }).error.code).toBe('no_session');

  // The same code a second time (a replayed callback, with the flow cookie it had): the provider refuses it.
  const replay = await fetch(callback, { redirect: 'manual', headers: { cookie: `${flowName}=${flowValue ?? ''}` } });
  expect(replay.headers.get('location')).toBe('/#/sign-in?error=code_rejected');

  // Signing out goes to the provider's end-session endpoint, and comes back to the app.
  const logout = await get(`${webUrl}/auth/logout`, app);
  const end = new URL(location(logout, webUrl));
  expect(`${end.origin}${end.pathname}`).toBe(`${provider.issuer}/session/end`);
  expect(end.searchParams.get('client_id')).toBe('restaurant-spa');
  expect(end.searchParams.get('post_logout_redirect_uri')).toBe(`${webUrl}/`);
});

it('two tabs of one browser sign in at once, each getting its own session; a callback matching neither is a state mismatch', async () => {
  const app = new Jar();
  const [first, second] = [await get(`${webUrl}/auth/login`, app), await get(`${webUrl}/auth/login`, app)];
  // The second login finishes first.
  const secondBack = await get(await throughProvider(location(second, webUrl), new Jar()), app);
  const firstBack = await get(await throughProvider(location(first, webUrl), new Jar()), app);
  const sessions = [];
  for (const back of [firstBack, secondBack]) {
    const handoff = /handoff=([A-Za-z0-9_-]+)/.exec(back.headers.get('location') ?? '')?.[1] ?? '';
    const res = await fetch(`${webUrl}/auth/session?handoff=${handoff}`, { method: 'POST', headers: { cookie: app.header() } });
    expect(res.status).toBe(200);
    sessions.push(((await res.json()) as { token: string }).token);
  }
  expect(new Set(sessions).size).toBe(2);

  // A third login under way; a callback with a state of someone else's making.
  await get(`${webUrl}/auth/login`, app);
  const forged = await fetch(`${webUrl}/auth/callback?code=forged&state=${'f'.repeat(43)}`, { redirect: 'manual', headers: { cookie: app.header() } });
  expect(forged.headers.get('location')).toBe('/#/sign-in?error=state_mismatch');
  // No login under way at all: it took too long, or was started elsewhere.
  const stray = await fetch(`${webUrl}/auth/callback?code=forged&state=${'f'.repeat(43)}`, { redirect: 'manual' });
  expect(stray.headers.get('location')).toBe('/#/sign-in?error=expired');
});

it('behind one address, a login started on one web instance finishes on another that shares WEB_OIDC_COOKIE_KEY', async () => {
  const env = { AUTH_JWKS_URL: provider.jwksUrl, AUTH_ISSUER: provider.issuer, AUTH_AUDIENCE: 'restaurant', WEB_OIDC_CLIENT_ID: 'restaurant-spa', WEB_PUBLIC_URL: webUrl };
  const [same, other] = await Promise.all([
    startRole('web', { ...env, WEB_PORT: String(await freePort()), WEB_OIDC_COOKIE_KEY: COOKIE_KEY }),
    startRole('web', { ...env, WEB_PORT: String(await freePort()), WEB_OIDC_COOKIE_KEY: 'd4'.repeat(32) }),
  ]);
  try {
    const finishOn = async (instance: RoleProcess): Promise<string | null> => {
      const app = new Jar();
      const login = await get(`${webUrl}/auth/login`, app);
      const callback = new URL(await throughProvider(location(login, webUrl), new Jar()));
      const res = await fetch(`${instance.webUrl}${callback.pathname}${callback.search}`, { redirect: 'manual', headers: { cookie: app.header() } });
      return res.headers.get('location');
    };
    expect(await finishOn(same)).toMatch(/^\/#\/signed-in\?handoff=/);
    // Another key cannot open the login's cookie: as if it had never started there.
    expect(await finishOn(other)).toBe('/#/sign-in?error=state_mismatch');
  } finally {
    await Promise.all([same.stop(), other.stop()]);
  }
});

it('a provider that is down: the login comes back to the sign-in screen saying so, no 5xx', async () => {
  await provider.stop();
  const res = await fetch(`${webUrl}/auth/login`, { redirect: 'manual' });
  expect(res.status).toBe(302);
  expect(res.headers.get('location')).toBe('/#/sign-in?error=provider_unavailable');
  const logout = await fetch(`${webUrl}/auth/logout`, { redirect: 'manual' });
  expect(logout.status).toBe(302);
  expect(logout.headers.get('location')).toBe('/');
});
