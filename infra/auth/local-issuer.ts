// Mints tokens with the local signing key: `npm run token` and the tests.
// Production tokens come from an OIDC provider (docs/security.md).
import { SignJWT } from 'jose';
import type { SigningKey } from './local-keys';
import { DEFAULT_AUDIENCE, LOCAL_ISSUER } from './settings';

export interface TokenClaims {
  readonly subject: string;
  readonly roles: readonly string[];
  readonly issuer?: string;
  readonly audience?: string;
  /** Lifetime in seconds (default 3600). */
  readonly ttlSeconds?: number;
  /** Epoch seconds the token is issued at (default now). */
  readonly issuedAt?: number;
  /** Epoch seconds before which it is not valid. */
  readonly notBefore?: number;
  /** Where the roles go (default `roles`; a dotted path nests them). */
  readonly rolesClaim?: readonly string[];
}

function nest(path: readonly string[], value: unknown): Record<string, unknown> {
  const [head, ...rest] = path;
  if (head === undefined) throw new Error('empty claim path');
  return { [head]: rest.length === 0 ? value : nest(rest, value) };
}

export async function mintToken(key: SigningKey, claims: TokenClaims): Promise<string> {
  const iat = claims.issuedAt ?? Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(nest(claims.rolesClaim ?? ['roles'], [...claims.roles]))
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setSubject(claims.subject)
    .setIssuer(claims.issuer ?? LOCAL_ISSUER)
    .setAudience(claims.audience ?? DEFAULT_AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(iat + (claims.ttlSeconds ?? 3600));
  if (claims.notBefore !== undefined) jwt.setNotBefore(claims.notBefore);
  return jwt.sign(key.privateKey);
}
