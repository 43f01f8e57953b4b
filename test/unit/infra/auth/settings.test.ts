// Authentication settings from the environment (infra/auth/settings.ts).
import { readAuthSettings } from '../../../../infra/auth/settings';

describe('readAuthSettings', () => {
  it('defaults to the local key under STACK_HOME, restaurant-local / restaurant, roles, 30 s skew', () => {
    const s = readAuthSettings({}, '/tmp/stack');
    expect(s).toMatchObject({ mode: 'local', localKeyDir: '/tmp/stack/auth', issuer: 'restaurant-local', audience: 'restaurant', rolesClaim: ['roles'], clockSkewSeconds: 30 });
    expect(s.rateLimit).toEqual({ requests: 100, windowSeconds: 1, failedAuthPerMinute: 60 });
    expect(s.metrics).toEqual({ mode: 'open', staticToken: undefined });
  });

  it('uses a provider JWKS with its issuer, a nested roles claim, or no authentication', () => {
    const s = readAuthSettings({ AUTH_JWKS_URL: 'https://idp.example/realms/r/protocol/openid-connect/certs', AUTH_ISSUER: 'https://idp.example/realms/r', AUTH_ROLES_CLAIM: 'realm_access.roles' }, '/tmp');
    expect(s).toMatchObject({ mode: 'jwks', issuer: 'https://idp.example/realms/r', rolesClaim: ['realm_access', 'roles'] });
    expect(readAuthSettings({ AUTH_DISABLED: 'true' }, '/tmp').mode).toBe('disabled');
  });

  it.each([
    [{ AUTH_JWKS_URL: 'https://idp.example/certs' }, /AUTH_ISSUER is required/],
    [{ AUTH_JWKS_URL: 'not a url', AUTH_ISSUER: 'x' }, /not a URL/],
    [{ AUTH_DISABLED: 'yes' }, /true or false/],
    [{ AUTH_ALGORITHMS: 'ES256,none' }, /none/],
    [{ AUTH_CLOCK_SKEW_SECONDS: '3600' }, /from 0 to 300/],
    [{ METRICS_AUTH: 'maybe' }, /open or required/],
    [{ METRICS_TOKEN: 'short' }, /16 characters/],
  ])('refuses %j', (env, message) => {
    expect(() => readAuthSettings(env, '/tmp')).toThrow(message);
  });
});
