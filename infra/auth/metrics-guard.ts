// /metrics protection (METRICS_AUTH, docs/operations.md): open by default;
// with METRICS_AUTH=required a scrape needs `Authorization: Bearer <token>`
// with either the static METRICS_TOKEN (what Prometheus sends, from a
// credentials file) or a valid token with the admin role.
import { timingSafeEqual } from 'node:crypto';
import { createAuthenticator } from './authenticator';
import type { AuthSettings } from './settings';

/** True when the Authorization header value may read /metrics. */
export type MetricsGuard = (authorization: string | undefined) => Promise<boolean>;

function sameSecret(given: string, expected: string): boolean {
  const [a, b] = [Buffer.from(given), Buffer.from(expected)];
  return a.length === b.length && timingSafeEqual(a, b);
}

/** undefined when /metrics is open. */
export async function metricsGuard(settings: AuthSettings): Promise<MetricsGuard | undefined> {
  if (settings.metrics.mode === 'open') return undefined;
  const { staticToken } = settings.metrics;
  const authenticator = await createAuthenticator(settings);
  return async (authorization) => {
    const token = /^Bearer +(\S+) *$/i.exec(authorization ?? '')?.[1];
    if (token === undefined) return false;
    if (staticToken !== undefined && sameSecret(token, staticToken)) return true;
    const result = await authenticator.authenticate(authorization);
    return result.ok && result.principal.roles.includes('admin');
  };
}
