// The web role's settings (docs/web-ui.md): its port, where it forwards the two
// APIs, its public origin and the OIDC login. The composition root
// (app/roles.ts) reads them from the environment with the other roles'.
export interface WebRoleConfig {
  /** Its HTTP port (WEB_PORT, default 3002). */
  readonly port: number;
  /** Where it forwards /api/gateway (WEB_GATEWAY_URL, default http://127.0.0.1:<PORT>). */
  readonly gatewayUrl: string;
  /** Where it forwards /api/query (WEB_QUERY_URL, default http://127.0.0.1:<QUERY_PORT>). */
  readonly queryUrl: string;
  /** The origin browsers reach the web UI at (WEB_PUBLIC_URL, default http://127.0.0.1:<WEB_PORT>): the OIDC redirect URIs are under it. */
  readonly publicUrl: string;
  /** The OIDC login flow (WEB_OIDC_CLIENT_ID set, with AUTH_JWKS_URL and AUTH_ISSUER): undefined when not configured. */
  readonly oidc: WebOidcConfig | undefined;
}

export interface WebOidcConfig {
  /** The client registered for the web UI at the identity provider (WEB_OIDC_CLIENT_ID). */
  readonly clientId: string;
  /** Its secret (WEB_OIDC_CLIENT_SECRET): a confidential client; without it a public client (PKCE only). */
  readonly clientSecret: string | undefined;
  /** Scopes asked for (WEB_OIDC_SCOPE, default `openid profile email`; `openid` is always asked). */
  readonly scope: string;
  /** The name on the sign-in button (WEB_OIDC_PROVIDER_NAME, default the issuer's host). */
  readonly providerName: string | undefined;
  /** RFC 8707 resource indicator sent with the authorization and token requests (WEB_OIDC_RESOURCE), for providers that pick the access token's audience by it. */
  readonly resource: string | undefined;
  /**
   * The key sealing the login's cookies (WEB_OIDC_COOKIE_KEY, 64 hex digits): the same on every web instance
   * behind one load balancer, so a login may finish on another instance than it started on. Unset: random per process.
   */
  readonly cookieKey: Uint8Array | undefined;
}

function cookieKey(raw: string | undefined): Uint8Array | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!/^[0-9a-fA-F]{64}$/.test(raw)) throw new Error('WEB_OIDC_COOKIE_KEY must be 64 hex digits (32 random bytes: openssl rand -hex 32)');
  return Uint8Array.from(Buffer.from(raw, 'hex'));
}

function oidcScope(raw: string | undefined): string {
  const scopes = (raw?.trim() || 'openid profile email').split(/\s+/);
  return (scopes.includes('openid') ? scopes : ['openid', ...scopes]).join(' ');
}

export function webOidc(env: NodeJS.ProcessEnv): WebOidcConfig | undefined {
  const clientId = env.WEB_OIDC_CLIENT_ID?.trim() || undefined;
  if (clientId === undefined) return undefined;
  if (!env.AUTH_JWKS_URL?.trim()) throw new Error('WEB_OIDC_CLIENT_ID needs AUTH_JWKS_URL and AUTH_ISSUER: the APIs verify the provider\'s tokens (docs/security.md)');
  const resource = env.WEB_OIDC_RESOURCE?.trim() || undefined;
  return Object.freeze({
    clientId,
    clientSecret: env.WEB_OIDC_CLIENT_SECRET || undefined,
    scope: oidcScope(env.WEB_OIDC_SCOPE),
    providerName: env.WEB_OIDC_PROVIDER_NAME?.trim() || undefined,
    resource,
    cookieKey: cookieKey(env.WEB_OIDC_COOKIE_KEY),
  });
}
