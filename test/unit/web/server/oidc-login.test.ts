import { errors } from 'openid-client';
import { roleConfig } from '../../../../app/roles';
import { SIGN_IN_ERRORS, signInErrorOf } from '../../../../web/server/oidc-login';
import { cookieNames, createSealer, readCookie, serializeCookie } from '../../../../web/server/sealed-cookie';
import { signInErrorMessage } from '../../../../web/src/sign-in-errors';

describe('the OIDC login of the web role', () => {
  it('names what went wrong in a callback: the provider refusing, a forged state, a used code, a provider out of reach', () => {
    expect(signInErrorOf(new errors.OPError({ error: 'access_denied', error_description: 'End-User aborted interaction' }))).toBe('denied');
    expect(signInErrorOf(new errors.OPError({ error: 'invalid_grant', error_description: 'grant request is invalid' }))).toBe('code_rejected');
    expect(signInErrorOf(new errors.OPError({ error: 'temporarily_unavailable' }))).toBe('provider_unavailable');
    expect(signInErrorOf(new errors.OPError({ error: 'invalid_client' }))).toBe('provider_error');
    expect(signInErrorOf(new errors.RPError({ printf: ['state mismatch, expected %s, got: %s', 'a', 'b'] }))).toBe('state_mismatch');
    expect(signInErrorOf(new errors.RPError({ message: 'state missing from the response' }))).toBe('state_mismatch');
    expect(signInErrorOf(new errors.RPError({ printf: ['nonce mismatch, expected %s, got: %s', 'a', 'b'] }))).toBe('provider_error');
    expect(signInErrorOf(new errors.RPError({ message: 'outgoing request timed out after 5000ms' }))).toBe('provider_unavailable');
    expect(signInErrorOf(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toBe('provider_unavailable');
    expect(signInErrorOf(new Error('something else'))).toBe('provider_error');
  });

  it('the sign-in screen has its own words for every code the web role sends', () => {
    const messages = SIGN_IN_ERRORS.map((code) => signInErrorMessage(code, 'Example ID'));
    expect(new Set(messages).size).toBe(SIGN_IN_ERRORS.length);
    for (const message of messages) expect(message).not.toBe(signInErrorMessage('no-such-code', 'Example ID'));
    expect(signInErrorMessage('denied', 'Example ID')).toContain('Example ID');
  });

  it('seals cookie values: read back by the same key until they expire, never when changed, from another key, or late', async () => {
    let now = 1_700_000_000_000;
    const key = new Uint8Array(32).fill(7);
    const sealer = createSealer(key, () => now);
    const sealed = await sealer.seal({ state: 'abc', nonce: 'def' }, 600);
    expect(sealed).not.toContain('abc');
    expect(await sealer.open(sealed)).toMatchObject({ state: 'abc', nonce: 'def' });
    const flipped = `${sealed.slice(0, -3)}${sealed.endsWith('AAA') ? 'BBB' : 'AAA'}`;
    expect(await sealer.open(flipped)).toBeUndefined();
    expect(await createSealer(new Uint8Array(32).fill(8), () => now).open(sealed)).toBeUndefined();
    expect(await sealer.open(undefined)).toBeUndefined();
    expect(await sealer.open('not a jwe')).toBeUndefined();
    now += 601_000;
    expect(await sealer.open(sealed)).toBeUndefined();
    expect(() => createSealer(new Uint8Array(16))).toThrow('32 bytes');
  });

  it('writes HttpOnly, SameSite=Lax cookies (Secure over https) and reads one back from a Cookie header', () => {
    expect(serializeCookie('a', 'v', { path: '/auth/callback', maxAgeSeconds: 60, secure: false })).toBe('a=v; Path=/auth/callback; Max-Age=60; HttpOnly; SameSite=Lax');
    expect(serializeCookie('a', 'v', { path: '/', maxAgeSeconds: 1, secure: true })).toMatch(/; Secure$/);
    expect(readCookie('x=1; restaurant_oidc_flow=abc.def; y=2', 'restaurant_oidc_flow')).toBe('abc.def');
    expect(readCookie('x=1', 'restaurant_oidc_flow')).toBeUndefined();
    expect(readCookie(undefined, 'x')).toBeUndefined();
    expect(cookieNames('a=1; restaurant_oidc_flow_abc=x.y; broken; b=')).toEqual(['a', 'restaurant_oidc_flow_abc', 'b']);
    expect(cookieNames(undefined)).toEqual([]);
  });

  it('is configured by WEB_OIDC_* beside AUTH_JWKS_URL; off without a client id; openid always asked for', () => {
    expect(roleConfig({}).web.oidc).toBeUndefined();
    expect(roleConfig({ WEB_PORT: '4002' }).web.publicUrl).toBe('http://127.0.0.1:4002');
    const jwks = { AUTH_JWKS_URL: 'https://id.example.com/jwks', AUTH_ISSUER: 'https://id.example.com' };
    expect(roleConfig({ ...jwks, WEB_OIDC_CLIENT_ID: 'web' }).web.oidc).toEqual({ clientId: 'web', clientSecret: undefined, scope: 'openid profile email', providerName: undefined, resource: undefined, cookieKey: undefined });
    const full = roleConfig({ ...jwks, WEB_OIDC_CLIENT_ID: 'web', WEB_OIDC_CLIENT_SECRET: 's3cret', WEB_OIDC_SCOPE: 'profile roles', WEB_OIDC_PROVIDER_NAME: 'Example ID', WEB_OIDC_RESOURCE: 'urn:restaurant:api', WEB_PUBLIC_URL: 'https://food.example.com/' }).web;
    expect(full.oidc).toEqual({ clientId: 'web', clientSecret: 's3cret', scope: 'openid profile roles', providerName: 'Example ID', resource: 'urn:restaurant:api', cookieKey: undefined });
    const key = roleConfig({ ...jwks, WEB_OIDC_CLIENT_ID: 'web', WEB_OIDC_COOKIE_KEY: '0f'.repeat(32) }).web.oidc?.cookieKey;
    expect(key).toEqual(new Uint8Array(32).fill(15));
    expect(() => roleConfig({ ...jwks, WEB_OIDC_CLIENT_ID: 'web', WEB_OIDC_COOKIE_KEY: 'short' })).toThrow('WEB_OIDC_COOKIE_KEY must be 64 hex digits');
    expect(full.publicUrl).toBe('https://food.example.com');
    expect(() => roleConfig({ WEB_OIDC_CLIENT_ID: 'web' })).toThrow('WEB_OIDC_CLIENT_ID needs AUTH_JWKS_URL');
    expect(() => roleConfig({ WEB_PUBLIC_URL: 'ftp://x' })).toThrow('WEB_PUBLIC_URL must be an http(s) URL');
  });
});
