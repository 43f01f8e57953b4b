// The demo's credentials: a bearer token per actor, minted with the local
// signing key `npm start` uses (the same one `npm run token` uses), kept until
// a minute before it expires. A customer's token has the customer's id as its
// subject, so they act as themself; staff tokens have one subject per role.
// Against an identity provider (AUTH_JWKS_URL) the demo cannot mint tokens.
import { mintToken } from '../infra/auth/local-issuer';
import { localSigningKey, type SigningKey } from '../infra/auth/local-keys';
import { readAuthSettings } from '../infra/auth/settings';
import { readStackSettings } from '../infra/stack/settings';
import type { Actor, HeadersFor } from './client';

const TTL_SECONDS = 3600;
const RENEW_BEFORE_MS = 60_000;

export function subjectOf(actor: Actor): string {
  return actor.role === 'customer' ? actor.sub : `demo-${actor.role}`;
}

/** Bearer tokens from the local signing key, one per actor, renewed before they expire. */
export function localTokens(env: Record<string, string | undefined> = process.env, now: () => number = Date.now): HeadersFor {
  const settings = readAuthSettings(env, readStackSettings(env).home);
  if (settings.mode === 'jwks') {
    throw new Error('AUTH_JWKS_URL is set: the demo mints tokens with the local signing key only; run it against a stack that uses the local key');
  }
  let key: Promise<SigningKey> | undefined;
  const cache = new Map<string, { readonly header: Record<string, string>; readonly renewAt: number }>();
  return async (actor) => {
    const subject = subjectOf(actor);
    const id = `${actor.role}/${subject}`;
    const cached = cache.get(id);
    if (cached !== undefined && cached.renewAt > now()) return cached.header;
    key ??= localSigningKey(settings.localKeyDir);
    const token = await mintToken(await key, {
      subject,
      roles: [actor.role],
      issuer: settings.issuer,
      audience: settings.audience,
      rolesClaim: settings.rolesClaim,
      ttlSeconds: TTL_SECONDS,
      issuedAt: Math.floor(now() / 1000),
    });
    const header = { authorization: `Bearer ${token}` };
    cache.set(id, { header, renewAt: now() + TTL_SECONDS * 1000 - RENEW_BEFORE_MS });
    return header;
  };
}
