// Bearer token → principal (RFC 6750, RFC 7519), verified with jose: the
// signature against cached keys (the local JWKS, or an OIDC provider's JWKS
// fetched once and refreshed only for an unknown key id), exp/nbf with a small
// clock skew, iss, aud, and the algorithm from an allow-list (never `none`).
// A verified token is remembered briefly (until its exp, at most a minute) so
// repeated requests with it skip the signature check.
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { validateId } from '../../schemas/validation';
import { localSigningKey } from './local-keys';
import { rolesFromClaims, type Principal } from './principal';
import type { AuthSettings } from './settings';

/** `unavailable`: the provider's keys could not be fetched (not the client's fault: 503, not 401). */
export type AuthFailureCode = 'missing_token' | 'invalid_token' | 'unavailable';

export type AuthResult =
  | { readonly ok: true; readonly principal: Principal }
  | { readonly ok: false; readonly code: AuthFailureCode; readonly description: string };

export interface Authenticator {
  /** True when authentication is switched off (AUTH_DISABLED): every request acts as {@link ANONYMOUS_ADMIN}. */
  readonly disabled: boolean;
  /** Checks an Authorization header value. Never throws for anything a client can send. */
  authenticate(authorization: string | undefined): Promise<AuthResult>;
}

/** The principal of every request when authentication is switched off (benchmark baseline only). */
export const ANONYMOUS_ADMIN: Principal = Object.freeze({ subject: 'anonymous', roles: Object.freeze(['admin'] as const) });

export const disabledAuthenticator: Authenticator = {
  disabled: true,
  authenticate: async () => ({ ok: true, principal: ANONYMOUS_ADMIN }),
};

const TOKEN_CACHE_MAX_ENTRIES = 10_000;
const TOKEN_CACHE_MAX_MS = 60_000;
const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;

function describe(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'the token has expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return 'the token is not valid yet';
    return `the token's ${error.claim} claim is not accepted`;
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'the token signature is invalid';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'the token is signed with an algorithm that is not accepted';
  if (error instanceof errors.JWKSNoMatchingKey) return 'the token is signed with an unknown key';
  if (error instanceof errors.JOSEError) return 'the token is malformed or cannot be verified';
  return 'the token cannot be verified';
}

export interface VerifierOptions {
  readonly issuer: string;
  readonly audience: string;
  readonly rolesClaim: readonly string[];
  readonly clockSkewSeconds: number;
  readonly algorithms: readonly string[];
  /** Epoch milliseconds (tests move it). */
  readonly clock?: () => number;
}

/** Verifies tokens against `keys` (a JWKS getter from jose). */
export function createVerifier(keys: JWTVerifyGetKey, options: VerifierOptions): Authenticator {
  const clock = options.clock ?? Date.now;
  const cache = new Map<string, { readonly principal: Principal; readonly untilMs: number }>();

  async function verify(token: string): Promise<AuthResult> {
    const now = clock();
    const { payload } = await jwtVerify(token, keys, {
      issuer: options.issuer,
      audience: options.audience,
      algorithms: [...options.algorithms],
      clockTolerance: options.clockSkewSeconds,
      requiredClaims: ['sub', 'exp'],
      currentDate: new Date(now),
    });
    const subject = payload.sub ?? '';
    if (validateId('sub', subject) !== null) return { ok: false, code: 'invalid_token', description: 'the token subject is not a usable id' };
    const roles = rolesFromClaims(payload, options.rolesClaim);
    if (!roles.ok) return { ok: false, code: 'invalid_token', description: roles.reason };
    const principal: Principal = { subject, roles: roles.roles };
    if (cache.size >= TOKEN_CACHE_MAX_ENTRIES) cache.delete(cache.keys().next().value as string);
    cache.set(token, { principal, untilMs: Math.min((payload.exp ?? 0) * 1000, now + TOKEN_CACHE_MAX_MS) });
    return { ok: true, principal };
  }

  return {
    disabled: false,
    async authenticate(authorization) {
      if (authorization === undefined || authorization.trim() === '') return { ok: false, code: 'missing_token', description: 'send Authorization: Bearer <token>' };
      const token = BEARER.exec(authorization)?.[1];
      if (token === undefined) return { ok: false, code: 'invalid_token', description: 'the Authorization header is not a Bearer token' };
      const cached = cache.get(token);
      if (cached !== undefined) {
        if (clock() < cached.untilMs) return { ok: true, principal: cached.principal };
        cache.delete(token);
      }
      try {
        return await verify(token);
      } catch (error) {
        if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || !(error instanceof errors.JOSEError)) {
          return { ok: false, code: 'unavailable', description: `the signing keys could not be fetched: ${error instanceof Error ? error.message : String(error)}` };
        }
        return { ok: false, code: 'invalid_token', description: describe(error) };
      }
    },
  };
}

/** The authenticator the settings ask for: switched off, the local key, or a provider's JWKS. */
export async function createAuthenticator(settings: AuthSettings): Promise<Authenticator> {
  const options = {
    issuer: settings.issuer,
    audience: settings.audience,
    rolesClaim: settings.rolesClaim,
    clockSkewSeconds: settings.clockSkewSeconds,
    algorithms: settings.algorithms,
  };
  switch (settings.mode) {
    case 'disabled':
      return disabledAuthenticator;
    case 'jwks':
      // jose caches the keys, refetching at most every 30 s and only for an unknown kid or after 10 minutes.
      return createVerifier(createRemoteJWKSet(new URL(settings.jwksUrl as string)), options);
    case 'local':
      return createVerifier(localJwks((await localSigningKey(settings.localKeyDir)).jwks), options);
  }
}

export function localJwks(jwks: JSONWebKeySet): JWTVerifyGetKey {
  return createLocalJWKSet(jwks);
}
