// Starting and stopping the web role (ROLE=web, or inside ROLE=all).
import path from 'node:path';
import { config } from '../../infra/config';
import { localSigningKey } from '../../infra/auth/local-keys';
import { serveHttp } from '../../infra/app/http';
import type { RoleDeps, Running } from '../../infra/app/start';
import { repoRoot } from '../../infra/stack/settings';
import { createWebApp } from './app';

/** Where `npm run build:web` writes the front end. */
export const WEB_DIST = path.join(repoRoot, 'web', 'dist');

export async function startWeb({ logger, settings, metrics }: Pick<RoleDeps, 'logger' | 'settings' | 'metrics'>): Promise<Running> {
  const log = logger.child({ component: 'web' });
  const auth = config().auth;
  const signingKey = auth.mode === 'local' ? await localSigningKey(auth.localKeyDir) : undefined;
  const app = createWebApp({
    staticDir: WEB_DIST,
    gatewayOrigin: settings.web.gatewayUrl,
    queryOrigin: settings.web.queryUrl,
    auth,
    signingKey,
    oidc: settings.web.oidcClientId === undefined ? undefined : { clientId: settings.web.oidcClientId, scope: settings.web.oidcScope },
    clock: Date.now,
    logger: log,
  });
  const server = await serveHttp('web', app, settings.web.port, { log, metrics }, 'web UI listening');
  if (signingKey !== undefined) log.info('development sign-in is on (local signing key): anyone who can reach the web port can sign in as any customer or staff role');
  return { name: 'web', stop: () => server.close() };
}
