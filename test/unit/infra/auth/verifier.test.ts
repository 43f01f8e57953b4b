// Token verification (infra/auth/authenticator.ts): only a token signed by a
// known key, with the expected issuer and audience, inside its validity window
// (30 s skew), with an accepted algorithm, makes a principal.
import { SignJWT, UnsecuredJWT } from 'jose';
import { createVerifier, localJwks } from '../../../../infra/auth/authenticator';
import { mintToken } from '../../../../infra/auth/local-issuer';
import { generateSigningKey, type SigningKey } from '../../../../infra/auth/local-keys';
import { rolesFromClaims } from '../../../../infra/auth/principal';
import { DEFAULT_ALGORITHMS } from '../../../../infra/auth/settings';
import { claimsFor, memorySigningKey, testVerifier } from '../../../support/auth';

let key: SigningKey;
let otherKey: SigningKey;
beforeAll(async () => {
  key = await memorySigningKey();
  otherKey = await generateSigningKey();
});

const now = () => Math.floor(Date.now() / 1000);
const bearer = (token: string) => `Bearer ${token}`;

/** Replaces one character of the signature (the token's last part). */
function tamperSignature(token: string): string {
  const last = token.at(-5) === 'A' ? 'B' : 'A';
  return `${token.slice(0, -5)}${last}${token.slice(-4)}`;
}

/** Swaps the payload for another one, keeping the original signature. */
function tamperPayload(token: string, payload: Record<string, unknown>): string {
  const [header, , signature] = token.split('.');
  return `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${signature}`;
}

describe('a valid token', () => {
  it('becomes a principal with its subject and the project roles it names', async () => {
    const token = await mintToken(key, claimsFor(['customer', 'manager'], 'cust-1'));
    await expect(testVerifier(key).authenticate(bearer(token))).resolves.toEqual({ ok: true, principal: { subject: 'cust-1', roles: ['customer', 'manager'] } });
  });

  it('is accepted up to the clock skew after its exp, and from the skew before its nbf', async () => {
    const expired = await mintToken(key, claimsFor('admin', 'a', { issuedAt: now() - 3600 - 20, ttlSeconds: 3600 }));
    const early = await mintToken(key, claimsFor('admin', 'a', { notBefore: now() + 20 }));
    expect((await testVerifier(key).authenticate(bearer(expired))).ok).toBe(true);
    expect((await testVerifier(key).authenticate(bearer(early))).ok).toBe(true);
  });

  it('ignores roles the project does not know, and finds roles at a nested claim path (Keycloak)', async () => {
    const token = await mintToken(key, claimsFor(['kitchen'], 'k', { rolesClaim: ['realm_access', 'roles'] }));
    const verifier = createVerifier(localJwks(key.jwks), { issuer: 'restaurant-local', audience: 'restaurant', rolesClaim: ['realm_access', 'roles'], clockSkewSeconds: 30, algorithms: DEFAULT_ALGORITHMS });
    await expect(verifier.authenticate(bearer(token))).resolves.toEqual({ ok: true, principal: { subject: 'k', roles: ['kitchen'] } });
    expect(rolesFromClaims({ roles: ['offline_access', 'courier', 'uma_authorization'] }, ['roles'])).toEqual({ ok: true, roles: ['courier'] });
    expect(rolesFromClaims({ roles: 'courier manager' }, ['roles'])).toEqual({ ok: true, roles: ['courier', 'manager'] });
  });

  it('is remembered until its exp: a later check does not need the signature again, and stops at exp', async () => {
    let clock = Date.now();
    const verifier = testVerifier(key, () => clock);
    const token = await mintToken(key, claimsFor('admin', 'a', { ttlSeconds: 40 }));
    expect((await verifier.authenticate(bearer(token))).ok).toBe(true);
    clock += 39_000;
    expect((await verifier.authenticate(bearer(token))).ok).toBe(true);
    clock += 40_000; // past exp + skew
    expect(await verifier.authenticate(bearer(token))).toMatchObject({ ok: false, code: 'invalid_token', description: 'the token has expired' });
  });
});

describe('a token that is refused', () => {
  const cases: [string, () => Promise<string | undefined>, RegExp][] = [
    ['no Authorization header', async () => undefined, /Authorization: Bearer/],
    ['an empty header', async () => '', /Authorization: Bearer/],
    ['another scheme', async () => 'Basic YWRtaW46YWRtaW4=', /not a Bearer token/],
    ['garbage', async () => 'Bearer not-a-jwt', /malformed/],
    ['expired beyond the skew', async () => bearer(await mintToken(key, claimsFor('admin', 'a', { issuedAt: now() - 7200, ttlSeconds: 3600 }))), /expired/],
    ['not valid yet beyond the skew', async () => bearer(await mintToken(key, claimsFor('admin', 'a', { notBefore: now() + 120 }))), /not valid yet/],
    ['a tampered signature', async () => bearer(tamperSignature(await mintToken(key, claimsFor('customer', 'c')))), /signature/],
    [
      'a tampered payload (customer made admin)',
      async () => bearer(tamperPayload(await mintToken(key, claimsFor('customer', 'c')), { sub: 'c', roles: ['admin'], iss: 'restaurant-local', aud: 'restaurant', exp: now() + 600 })),
      /signature/,
    ],
    ['signed by another key', async () => bearer(await mintToken({ ...otherKey, kid: key.kid }, claimsFor('admin', 'a'))), /signature/],
    ['a wrong issuer', async () => bearer(await mintToken(key, claimsFor('admin', 'a', { issuer: 'https://evil.example' }))), /iss/],
    ['a wrong audience', async () => bearer(await mintToken(key, claimsFor('admin', 'a', { audience: 'someone-else' }))), /aud/],
    [
      'alg none',
      async () => bearer(new UnsecuredJWT({ roles: ['admin'] }).setSubject('a').setIssuer('restaurant-local').setAudience('restaurant').setExpirationTime('1h').encode()),
      /algorithm|malformed/,
    ],
    [
      'an algorithm not allowed (HS256 with a guessed secret)',
      async () =>
        bearer(
          await new SignJWT({ roles: ['admin'] })
            .setProtectedHeader({ alg: 'HS256' })
            .setSubject('a')
            .setIssuer('restaurant-local')
            .setAudience('restaurant')
            .setExpirationTime('1h')
            .sign(new TextEncoder().encode('secret-secret-secret-secret-secret')),
        ),
      /algorithm/,
    ],
    ['no subject', async () => bearer(tamperPayload(await mintToken(key, claimsFor('admin', 'a')), {})), /signature|sub/],
    ['a system role claim', async () => bearer(await mintToken(key, { subject: 'fulfilment', roles: ['system'] })), /system role/],
  ];

  it.each(cases)('%s → not authenticated, with a reason', async (_what, header, reason) => {
    const result = await testVerifier(key).authenticate(await header());
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.code).toMatch(/^(missing_token|invalid_token)$/);
    expect(result.description).toMatch(reason);
  });
});
