// The OIDC login flow, with the web role as the relying party (a
// backend-for-frontend for the login only): authorization code flow with PKCE
// (S256), `state` and `nonce`, against the provider's discovery document, with
// openid-client. docs/web-ui.md, "Signing in with an OIDC provider".
//
//   GET  /auth/login      a new flow: state, nonce and PKCE verifier sealed in a cookie; 302 to the provider
//   GET  /auth/callback   the provider's answer: checks, code exchange (client secret if any), ID token
//                         validation; the access token checked as the APIs check it; 302 to /#/signed-in,
//                         or to /#/sign-in?error=<code> (never a 5xx, never a blank page)
//   POST /auth/session?handoff=<id>   hands the tab its session once (the sealed hand-off cookie), then clears it
//   GET  /auth/logout     302 to the provider's end_session_endpoint (RP-initiated logout), back to /
//
// The access token the browser then sends is verified by the gateway and the
// query API with AUTH_JWKS_URL, AUTH_ISSUER and AUTH_AUDIENCE as always; the web
// role reads its subject and roles with the same verifier (infra/auth).
import type { Express, Request, Response } from 'express';
import { decodeJwt } from 'jose';
import { custom, errors, generators, Issuer, type BaseClient } from 'openid-client';
import type { Authenticator } from '../../infra/auth/authenticator';
import type { Logger } from '../../infra/logging';
import { clearCookie, cookieNames, readCookie, serializeCookie, type Sealer } from './sealed-cookie';

/** What went wrong, as the sign-in screen names it (web/src/screens/sign-in-errors.ts says it in words). */
export const SIGN_IN_ERRORS = ['denied', 'state_mismatch', 'expired', 'code_rejected', 'provider_unavailable', 'provider_error', 'token_not_accepted', 'no_role'] as const;
export type SignInErrorCode = (typeof SIGN_IN_ERRORS)[number];

export interface OidcLoginSettings {
  /** The provider's issuer (AUTH_ISSUER): its discovery document is <issuer>/.well-known/openid-configuration. */
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string | undefined;
  readonly scope: string;
  readonly resource: string | undefined;
  /** The origin browsers reach the web UI at (WEB_PUBLIC_URL). */
  readonly publicUrl: string;
  /** Tolerance on the ID token's iat/exp (AUTH_CLOCK_SKEW_SECONDS). */
  readonly clockSkewSeconds: number;
}

export interface OidcLoginDeps {
  readonly settings: OidcLoginSettings;
  /** The APIs' own verifier (createAuthenticator with the AUTH_* settings). */
  readonly authenticator: Authenticator;
  readonly sealer: Sealer;
  readonly clock: () => number;
  readonly logger: Logger;
}

/** The session a tab keeps in sessionStorage (web/src/session.ts). */
export interface OidcSession {
  readonly token: string;
  readonly subject: string;
  readonly roles: readonly string[];
  /** Epoch ms. */
  readonly expiresAt: number;
  /** Where signing out goes next (the provider's logout). */
  readonly signOutUrl: string;
  /** From the ID token, to fill a first-time customer's profile form. */
  readonly profile: { readonly name?: string; readonly email?: string };
}

// One cookie per login, named by its state (and one per hand-off, named by a
// random id): several tabs of one browser can sign in at once, each someone else.
export const FLOW_COOKIE_PREFIX = 'restaurant_oidc_flow_';
export const HANDOFF_COOKIE_PREFIX = 'restaurant_oidc_session_';
/** generators.state() and the hand-off ids: base64url, safe in a cookie name. */
const COOKIE_KEY = /^[A-Za-z0-9_-]{16,64}$/;
/** How long a person may take at the provider. */
const FLOW_TTL_SECONDS = 600;
/** How long the signed-in page has to collect its session. */
const HANDOFF_TTL_SECONDS = 60;

// openid-client's own default is 3.5 s per request to the provider.
custom.setHttpOptionsDefaults({ timeout: 5000 });

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

/** The sign-in screen's code for a failed callback (openid-client's errors, network failures). */
export function signInErrorOf(err: unknown): SignInErrorCode {
  if (err instanceof errors.OPError) {
    if (err.error === 'access_denied') return 'denied';
    if (err.error === 'invalid_grant') return 'code_rejected';
    if (err.error === 'temporarily_unavailable' || err.error === 'server_error') return 'provider_unavailable';
    return 'provider_error';
  }
  if (err instanceof errors.RPError) {
    if (/\bstate\b/.test(err.message)) return 'state_mismatch';
    if (/timed out/.test(err.message)) return 'provider_unavailable';
    if (err.response !== undefined && typeof err.response.statusCode === 'number' && err.response.statusCode >= 500) return 'provider_unavailable';
    return 'provider_error';
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return 'provider_unavailable';
  if (err instanceof Error && /timed? ?out|socket hang up|fetch failed/i.test(err.message)) return 'provider_unavailable';
  return 'provider_error';
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined);

export function mountOidcLogin(app: Express, deps: OidcLoginDeps): void {
  const { settings, sealer, logger } = deps;
  const redirectUri = `${settings.publicUrl}/auth/callback`;
  const postLogoutUri = `${settings.publicUrl}/`;
  const secure = settings.publicUrl.startsWith('https:');
  const flowCookie = { path: '/auth/callback', secure };
  const handoffCookie = { path: '/auth/session', secure };

  // The discovery document: read again at every login (so a provider that is down is said so on the
  // sign-in screen, not by the browser at the provider's address, and changed metadata is picked up),
  // kept for the callback and the logout, and read again after a failure.
  let client: Promise<BaseClient> | undefined;
  const getClient = (fresh = false): Promise<BaseClient> => {
    if (fresh) client = undefined;
    if (client !== undefined) return client;
    const discovered = Issuer.discover(settings.issuer).then((issuer) => {
      const c = new issuer.Client({
        client_id: settings.clientId,
        ...(settings.clientSecret === undefined ? { token_endpoint_auth_method: 'none' } : { client_secret: settings.clientSecret, token_endpoint_auth_method: 'client_secret_basic' }),
        redirect_uris: [redirectUri],
        post_logout_redirect_uris: [postLogoutUri],
        response_types: ['code'],
      });
      c[custom.clock_tolerance] = settings.clockSkewSeconds;
      return c;
    });
    client = discovered;
    discovered.catch(() => {
      if (client === discovered) client = undefined;
    });
    return discovered;
  };

  const fail = (res: Response, code: SignInErrorCode): void => {
    res.set('Cache-Control', 'no-store').redirect(302, `/#/sign-in?error=${code}`);
  };

  app.get('/auth/login', async (_req: Request, res: Response) => {
    let c: BaseClient;
    try {
      c = await getClient(true);
    } catch (err) {
      logger.warn({ err, issuer: settings.issuer }, 'the identity provider\'s discovery document could not be read');
      return fail(res, 'provider_unavailable');
    }
    const state = generators.state();
    const nonce = generators.nonce();
    const verifier = generators.codeVerifier();
    const sealed = await sealer.seal({ state, nonce, verifier }, FLOW_TTL_SECONDS);
    const target = c.authorizationUrl({
      scope: settings.scope,
      state,
      nonce,
      code_challenge: generators.codeChallenge(verifier),
      code_challenge_method: 'S256',
      ...(settings.resource === undefined ? {} : { resource: settings.resource }),
    });
    res.set({ 'Cache-Control': 'no-store', 'Set-Cookie': serializeCookie(`${FLOW_COOKIE_PREFIX}${state}`, sealed, { ...flowCookie, maxAgeSeconds: FLOW_TTL_SECONDS }) }).redirect(302, target);
  });

  app.get('/auth/callback', async (req: Request, res: Response) => {
    const returnedState = typeof req.query.state === 'string' && COOKIE_KEY.test(req.query.state) ? req.query.state : undefined;
    // One flow, one callback: its cookie goes whatever happens.
    if (returnedState !== undefined) res.append('Set-Cookie', clearCookie(`${FLOW_COOKIE_PREFIX}${returnedState}`, flowCookie));
    const flow = returnedState === undefined ? undefined : await sealer.open(readCookie(req.headers.cookie, `${FLOW_COOKIE_PREFIX}${returnedState}`));
    if (flow === undefined) {
      // This browser has logins under way, but none with this state: a forged or crossed callback.
      if (cookieNames(req.headers.cookie).some((name) => name.startsWith(FLOW_COOKIE_PREFIX))) return fail(res, 'state_mismatch');
      // No login from this browser (never started here, older than FLOW_TTL_SECONDS, or this web instance restarted).
      return fail(res, 'expired');
    }
    const { state, nonce, verifier } = flow as { state?: unknown; nonce?: unknown; verifier?: unknown };
    if (typeof state !== 'string' || typeof nonce !== 'string' || typeof verifier !== 'string') return fail(res, 'expired');
    let c: BaseClient;
    try {
      c = await getClient();
    } catch (err) {
      logger.warn({ err, issuer: settings.issuer }, 'the identity provider\'s discovery document could not be read');
      return fail(res, 'provider_unavailable');
    }
    const params = c.callbackParams(req.originalUrl);

    let session: OidcSession;
    try {
      const tokens = await c.callback(redirectUri, params, { state, nonce, code_verifier: verifier, response_type: 'code' }, settings.resource === undefined ? {} : { exchangeBody: { resource: settings.resource } });
      const accessToken = tokens.access_token;
      if (accessToken === undefined) throw new errors.RPError('the token response has no access_token');
      // openid-client checked the state, the issuer (RFC 9207), the provider's error (the person declined...),
      // exchanged the code with the PKCE verifier, and validated the ID token (signature, iss, aud, exp, nonce).
      // The same check the gateway and the query API make on every request.
      const verified = await deps.authenticator.authenticate(`Bearer ${accessToken}`);
      if (!verified.ok) {
        logger.warn({ code: verified.code, description: verified.description }, 'the identity provider\'s access token is not accepted by the APIs');
        return fail(res, verified.code === 'unavailable' ? 'provider_unavailable' : 'token_not_accepted');
      }
      if (verified.principal.roles.length === 0) {
        logger.info({ subject: verified.principal.subject }, 'signed in at the identity provider without a role of this restaurant');
        return fail(res, 'no_role');
      }
      const claims = tokens.claims();
      const exp = decodeJwt(accessToken).exp ?? tokens.expires_at;
      session = {
        token: accessToken,
        subject: verified.principal.subject,
        roles: verified.principal.roles,
        expiresAt: (exp ?? Math.floor(deps.clock() / 1000) + 300) * 1000,
        signOutUrl: '/auth/logout',
        profile: { ...(text(claims.name) === undefined ? {} : { name: text(claims.name) }), ...(text(claims.email) === undefined ? {} : { email: text(claims.email) }) },
      };
    } catch (err) {
      const code = signInErrorOf(err);
      logger.warn({ err, code }, 'the OIDC sign-in failed');
      return fail(res, code);
    }
    const handoff = generators.random(24);
    const sealed = await sealer.seal({ session }, HANDOFF_TTL_SECONDS);
    res.append('Set-Cookie', serializeCookie(`${HANDOFF_COOKIE_PREFIX}${handoff}`, sealed, { ...handoffCookie, maxAgeSeconds: HANDOFF_TTL_SECONDS }));
    res.set('Cache-Control', 'no-store').redirect(302, `/#/signed-in?handoff=${handoff}`);
  });

  app.post('/auth/session', async (req: Request, res: Response) => {
    const handoff = typeof req.query.handoff === 'string' && COOKIE_KEY.test(req.query.handoff) ? req.query.handoff : undefined;
    res.set('Cache-Control', 'no-store');
    if (handoff !== undefined) res.set('Set-Cookie', clearCookie(`${HANDOFF_COOKIE_PREFIX}${handoff}`, handoffCookie));
    const opened = handoff === undefined ? undefined : await sealer.open(readCookie(req.headers.cookie, `${HANDOFF_COOKIE_PREFIX}${handoff}`));
    const session = (opened as { session?: OidcSession } | undefined)?.session;
    if (session === undefined || typeof session.token !== 'string') {
      return void res.status(401).json({ error: { code: 'no_session', message: 'there is no sign-in to collect: it was collected already or took too long; sign in again' } });
    }
    res.json(session);
  });

  app.get('/auth/logout', async (_req: Request, res: Response) => {
    res.set('Cache-Control', 'no-store');
    try {
      const c = await getClient();
      if (c.issuer.metadata.end_session_endpoint === undefined) return res.redirect(302, '/');
      res.redirect(302, c.endSessionUrl({ post_logout_redirect_uri: postLogoutUri, client_id: settings.clientId }));
    } catch (err) {
      // The tab has forgotten its token already; the provider's own session stays until it can be reached.
      logger.warn({ err }, 'the identity provider could not be reached to sign out there');
      res.redirect(302, '/');
    }
  });
}
