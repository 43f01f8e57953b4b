// Starting and stopping the web role (ROLE=web, or inside ROLE=all).
import path from 'node:path';
import { config } from '../../infra/config';
import { localSigningKey } from '../../infra/auth/local-keys';
import { serveHttp } from '../../infra/http/servers';
import type { Logger } from '../../infra/logging';
import type { Metrics } from '../../infra/metrics/registry';
import { repoRoot } from '../../infra/stack/settings';
import { createAuthenticator } from '../../infra/auth/authenticator';
import type { AuthSettings } from '../../infra/auth/settings';
import { createWebApp, type WebAppDeps } from './app';
import { createSealer } from './sealed-cookie';
import type { WebOidcConfig, WebRoleConfig } from './settings';

/** Where `npm run build:web` writes the front end. */
export const WEB_DIST = path.join(repoRoot, 'web', 'dist');

/** What the web role is started with: the composition root (app/main.ts) passes its own RoleDeps. */
export interface WebRoleDeps {
  readonly logger: Logger;
  readonly settings: { readonly web: WebRoleConfig };
  /** The process registry: the web port's requests are counted in it. */
  readonly metrics: Metrics;
}

export async function startWeb({ logger, settings, metrics }: WebRoleDeps): Promise<{ readonly name: 'web'; stop(): Promise<void> }> {
  const log = logger.child({ component: 'web' });
  const auth = config().auth;
  const signingKey = auth.mode === 'local' ? await localSigningKey(auth.localKeyDir) : undefined;
  const oidc = settings.web.oidc;
  const app = createWebApp({
    staticDir: WEB_DIST,
    gatewayOrigin: settings.web.gatewayUrl,
    queryOrigin: settings.web.queryUrl,
    auth,
    signingKey,
    oidc: oidc === undefined ? undefined : await oidcLogin(oidc, auth, settings.web.publicUrl),
    clock: Date.now,
    logger: log,
  });
  const server = await serveHttp('web', app, settings.web.port, { log, metrics }, 'web UI listening');
  if (oidc !== undefined) log.info({ issuer: auth.issuer, clientId: oidc.clientId, redirectUri: `${settings.web.publicUrl}/auth/callback` }, 'OIDC sign-in is on');
  if (signingKey !== undefined) log.info('development sign-in is on (local signing key): anyone who can reach the web port can sign in as any customer or staff role');
  return { name: 'web', stop: () => server.close() };
}

/** The OIDC login's parts: the provider's client settings, the APIs' own verifier, a sealing key for its cookies. */
async function oidcLogin(oidc: WebOidcConfig, auth: AuthSettings, publicUrl: string): Promise<NonNullable<WebAppDeps['oidc']>> {
  if (auth.mode !== 'jwks') throw new Error('WEB_OIDC_CLIENT_ID needs AUTH_JWKS_URL and AUTH_ISSUER (docs/web-ui.md, "Signing in with an OIDC provider")');
  return {
    settings: { issuer: auth.issuer, clientId: oidc.clientId, clientSecret: oidc.clientSecret, scope: oidc.scope, resource: oidc.resource, publicUrl, clockSkewSeconds: auth.clockSkewSeconds },
    authenticator: await createAuthenticator(auth),
    sealer: createSealer(oidc.cookieKey),
    providerName: oidc.providerName ?? new URL(auth.issuer).host,
  };
}
