// Tokens for tests. Unit tests sign with a key pair made in memory; e2e tests
// with the local signing key under <STACK_HOME>/auth, the one the spawned
// roles verify against (the same key `npm run token` uses).
import { createVerifier, localJwks, type Authenticator } from '../../infra/auth/authenticator';
import { mintToken, type TokenClaims } from '../../infra/auth/local-issuer';
import { generateSigningKey, localSigningKey, type SigningKey } from '../../infra/auth/local-keys';
import { DEFAULT_ALGORITHMS, DEFAULT_AUDIENCE, LOCAL_ISSUER, readAuthSettings } from '../../infra/auth/settings';
import { readStackSettings } from '../../infra/stack/settings';
import type { Role } from '../../schemas/roles';

let memoryKey: Promise<SigningKey> | undefined;
/** One in-memory key pair per test file. */
export const memorySigningKey = (): Promise<SigningKey> => (memoryKey ??= generateSigningKey());

let diskKey: Promise<SigningKey> | undefined;
/** The stack's local signing key (created on first use, as the roles do). */
export const stackSigningKey = (): Promise<SigningKey> => (diskKey ??= localSigningKey(readAuthSettings(process.env, readStackSettings().home).localKeyDir));

/** A verifier with the local defaults (iss restaurant-local, aud restaurant, roles claim `roles`, 30 s skew). */
export function testVerifier(key: SigningKey, clock?: () => number): Authenticator {
  return createVerifier(localJwks(key.jwks), {
    issuer: LOCAL_ISSUER,
    audience: DEFAULT_AUDIENCE,
    rolesClaim: ['roles'],
    clockSkewSeconds: 30,
    algorithms: DEFAULT_ALGORITHMS,
    ...(clock === undefined ? {} : { clock }),
  });
}

export type Who = Role | readonly Role[];

export function claimsFor(who: Who, subject?: string, extra: Partial<TokenClaims> = {}): TokenClaims {
  const roles = typeof who === 'string' ? [who] : [...who];
  return { subject: subject ?? `test-${roles.join('-') || 'nobody'}`, roles, ...extra };
}

/** `Authorization: Bearer <token>` for `who`, signed with the stack's local key. */
export async function bearer(who: Who, subject?: string): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await mintToken(await stackSigningKey(), claimsFor(who, subject))}` };
}

/** True when the headers already say who is asking (any case of Authorization). */
export const hasAuthorization = (headers: Readonly<Record<string, string>>): boolean => Object.keys(headers).some((h) => h.toLowerCase() === 'authorization');
