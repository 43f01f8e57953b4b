import { createLocalJWKSet, jwtVerify } from 'jose';
import { startBanner } from '../../../../app/banner';
import { generateSigningKey } from '../../../../infra/auth/local-keys';
import { readAuthSettings } from '../../../../infra/auth/settings';
import { customerIdForEmail, devSession, parseDevSignIn } from '../../../../web/server/dev-sign-in';
import { upstreamPath } from '../../../../web/server/proxy';

describe('the web role', () => {
  it('forwards only paths under its API prefixes, query strings kept', () => {
    expect(upstreamPath('/api/query/menu', '/api/query')).toBe('/menu');
    expect(upstreamPath('/api/query/live/orders/o-1?consistency=x', '/api/query')).toBe('/live/orders/o-1?consistency=x');
    expect(upstreamPath('/api/query', '/api/query')).toBe('/');
    expect(upstreamPath('/api/query?x=1', '/api/query')).toBe('/?x=1');
    expect(upstreamPath('/api/queryx/menu', '/api/query')).toBeUndefined();
    expect(upstreamPath('/api/gateway/orders', '/api/query')).toBeUndefined();
  });

  it('development sign-in takes a customer email or a staff role, never admin, and says what is wrong', () => {
    expect(parseDevSignIn({ role: 'customer', email: 'ada@example.com' })).toEqual({ role: 'customer', email: 'ada@example.com' });
    expect(parseDevSignIn({ role: 'kitchen' })).toEqual({ role: 'kitchen' });
    expect(parseDevSignIn({ role: 'admin' })).toBe('role must be one of customer, kitchen, courier, manager');
    expect(parseDevSignIn({ role: 'customer' })).toBe('email is required to sign in as a customer');
    expect(parseDevSignIn({ role: 'customer', email: 'not an email' })).toEqual(expect.any(String));
    expect(parseDevSignIn({ role: 'courier', email: 'a@b.c' })).toBe('email is only for customers');
    expect(parseDevSignIn({ role: 'courier', extra: 1 })).toBe('unknown field extra');
    expect(parseDevSignIn([])).toEqual(expect.any(String));
    expect(parseDevSignIn(null)).toEqual(expect.any(String));
  });

  it('the same email is the same customer, whatever its case and surrounding spaces', () => {
    expect(customerIdForEmail(' Ada@Example.com ')).toBe(customerIdForEmail('ada@example.com'));
    expect(customerIdForEmail('ada@example.com')).not.toBe(customerIdForEmail('bob@example.com'));
    expect(customerIdForEmail('ada@example.com')).toMatch(/^cust-[0-9a-f]{24}$/);
  });

  it('mints a token the APIs accept: the local issuer and audience, the subject and role asked for', async () => {
    const key = await generateSigningKey();
    const settings = readAuthSettings({}, '/tmp/unused');
    const session = await devSession(key, settings, { role: 'customer', email: 'ada@example.com' }, 1_700_000_000_000);
    const { payload } = await jwtVerify(session.token, createLocalJWKSet(key.jwks), {
      issuer: settings.issuer,
      audience: settings.audience,
      currentDate: new Date(1_700_000_000_000),
    });
    expect(payload.sub).toBe(customerIdForEmail('ada@example.com'));
    expect(payload.roles).toEqual(['customer']);
    expect(session.expiresAt).toBe(1_700_000_000_000 + 8 * 3600 * 1000);
  });

  it('the start banner says where the web UI is', () => {
    const stack = { kafka: { brokers: ['127.0.0.1:9092'], clientId: 'x' }, registry: { url: 'http://127.0.0.1:8081' }, redis: { url: 'redis://127.0.0.1:6379' } };
    const text = startBanner({ roles: ['gateway', 'query', 'web'], gatewayPort: 3000, queryPort: 3001, webPort: 3002, opsPort: 9464, stack }).join('\n');
    expect(text).toMatch(/web UI\s+http:\/\/127\.0\.0\.1:3002/);
    expect(startBanner({ roles: ['gateway'], gatewayPort: 3000, webPort: 3002, opsPort: 9464, stack }).join('\n')).not.toContain('3002');
  });
});
