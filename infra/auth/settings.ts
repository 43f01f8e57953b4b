// Authentication settings, read from the environment (docs/security.md):
//
//   AUTH_DISABLED=true         no authentication at all (benchmark baseline only; logged loudly)
//   AUTH_JWKS_URL              verify tokens with the keys of an OIDC provider's JWKS;
//                              without it, with the local signing key under <STACK_HOME>/auth
//   AUTH_ISSUER, AUTH_AUDIENCE expected `iss` and `aud` (local defaults: restaurant-local, restaurant;
//                              AUTH_ISSUER is required with AUTH_JWKS_URL)
//   AUTH_ROLES_CLAIM           where the roles are in the token, a dotted path (default `roles`;
//                              Keycloak: realm_access.roles)
//   AUTH_CLOCK_SKEW_SECONDS    tolerance on exp/nbf (default 30)
//   AUTH_ALGORITHMS            accepted signature algorithms (default ES256,EdDSA,RS256,PS256)
//   RATE_LIMIT_REQUESTS / RATE_LIMIT_WINDOW_SECONDS   per principal (default 100 per 1 s; 0 = off)
//   RATE_LIMIT_FAILED_AUTH_PER_MINUTE                 401s per client address (default 60; 0 = off)
//   METRICS_AUTH=open|required, METRICS_TOKEN         /metrics protection
import path from 'node:path';

export const LOCAL_ISSUER = 'restaurant-local';
export const DEFAULT_AUDIENCE = 'restaurant';
export const DEFAULT_ALGORITHMS = ['ES256', 'EdDSA', 'RS256', 'PS256'] as const;

export interface RateLimitSettings {
  /** Requests one principal may make per window; 0 turns the limit off. */
  readonly requests: number;
  readonly windowSeconds: number;
  /** Failed authentications (401) one client address may cause per minute; 0 turns it off. */
  readonly failedAuthPerMinute: number;
}

export interface MetricsAuthSettings {
  /** `required`: /metrics needs the static METRICS_TOKEN or a token with the admin role. */
  readonly mode: 'open' | 'required';
  readonly staticToken: string | undefined;
}

export interface AuthSettings {
  /** `local`: the project's own signing key; `jwks`: an OIDC provider's keys; `disabled`: no authentication. */
  readonly mode: 'local' | 'jwks' | 'disabled';
  readonly jwksUrl: string | undefined;
  /** Where the local signing key lives (generated on first use). */
  readonly localKeyDir: string;
  readonly issuer: string;
  readonly audience: string;
  /** Path of the roles claim, e.g. ['realm_access', 'roles']. */
  readonly rolesClaim: readonly string[];
  readonly clockSkewSeconds: number;
  readonly algorithms: readonly string[];
  readonly rateLimit: RateLimitSettings;
  readonly metrics: MetricsAuthSettings;
}

export class AuthConfigError extends Error {
  override readonly name = 'AuthConfigError';
}

type Env = Record<string, string | undefined>;

function wholeNumber(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new AuthConfigError(`${name}=${JSON.stringify(raw)} is not a whole number from ${min} to ${max}`);
  return value;
}

function jwksUrl(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch (cause) {
    throw new AuthConfigError(`AUTH_JWKS_URL=${JSON.stringify(raw)} is not a URL`, { cause });
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new AuthConfigError(`AUTH_JWKS_URL must be an http(s) URL, got ${parsed.protocol}`);
  return parsed.toString();
}

/** `stackHome` is the local stack's folder (STACK_HOME, default <repo>/.local), which git ignores. */
export function readAuthSettings(env: Env, stackHome: string): AuthSettings {
  const disabled = env.AUTH_DISABLED === 'true';
  if (env.AUTH_DISABLED !== undefined && env.AUTH_DISABLED !== '' && !disabled && env.AUTH_DISABLED !== 'false') {
    throw new AuthConfigError(`AUTH_DISABLED=${JSON.stringify(env.AUTH_DISABLED)} is not true or false`);
  }
  const url = jwksUrl(env.AUTH_JWKS_URL);
  const issuer = env.AUTH_ISSUER?.trim() || undefined;
  if (url !== undefined && issuer === undefined) throw new AuthConfigError('AUTH_ISSUER is required with AUTH_JWKS_URL (the `iss` your provider writes)');
  const rolesClaim = (env.AUTH_ROLES_CLAIM?.trim() || 'roles').split('.');
  if (rolesClaim.some((part) => part === '')) throw new AuthConfigError(`AUTH_ROLES_CLAIM=${JSON.stringify(env.AUTH_ROLES_CLAIM)} is not a dotted claim path`);
  const algorithms = (env.AUTH_ALGORITHMS?.trim() || DEFAULT_ALGORITHMS.join(','))
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  if (algorithms.some((a) => a.toLowerCase() === 'none')) throw new AuthConfigError('AUTH_ALGORITHMS must not include none');
  const metricsMode = env.METRICS_AUTH ?? 'open';
  if (metricsMode !== 'open' && metricsMode !== 'required') throw new AuthConfigError(`METRICS_AUTH=${JSON.stringify(metricsMode)} is not open or required`);
  const staticToken = env.METRICS_TOKEN === undefined || env.METRICS_TOKEN === '' ? undefined : env.METRICS_TOKEN;
  if (staticToken !== undefined && staticToken.length < 16) throw new AuthConfigError('METRICS_TOKEN must be at least 16 characters');
  return Object.freeze({
    mode: disabled ? 'disabled' : url !== undefined ? 'jwks' : 'local',
    jwksUrl: url,
    localKeyDir: path.join(stackHome, 'auth'),
    issuer: issuer ?? LOCAL_ISSUER,
    audience: env.AUTH_AUDIENCE?.trim() || DEFAULT_AUDIENCE,
    rolesClaim: Object.freeze(rolesClaim),
    clockSkewSeconds: wholeNumber(env, 'AUTH_CLOCK_SKEW_SECONDS', 30, 0, 300),
    algorithms: Object.freeze(algorithms),
    rateLimit: Object.freeze({
      requests: wholeNumber(env, 'RATE_LIMIT_REQUESTS', 100, 0, 1_000_000),
      windowSeconds: wholeNumber(env, 'RATE_LIMIT_WINDOW_SECONDS', 1, 1, 3600),
      failedAuthPerMinute: wholeNumber(env, 'RATE_LIMIT_FAILED_AUTH_PER_MINUTE', 60, 0, 1_000_000),
    }),
    metrics: Object.freeze({ mode: metricsMode, staticToken }),
  });
}
