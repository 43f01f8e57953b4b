// A real OpenID Connect provider for the browser tests: panva's certified
// `oidc-provider` (ESM-only, hence this plain module run as a child process by
// test/support/oidc-provider.ts). It listens on loopback only.
//
// Set up by one environment variable, OIDC_TEST_SETUP (JSON):
//   { port, host, clients: [{ client_id, client_secret?, redirect_uris, post_logout_redirect_uris }],
//     accounts: { <login>: { name, email, roles } }, audience, resource, rolesClaim: ["realm_access", "roles"] }
// Each login is its account's subject. The access token is a JWT for `resource`
// (RFC 8707) with `aud` = audience, signed ES256; ID tokens are signed RS256;
// both keys are published at the JWKS. The roles go into the access token at
// the rolesClaim path (Keycloak's realm_access.roles shape).
// Prints `ready <issuer>` once it listens.
import console from 'node:console';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import process from 'node:process';
import Provider from 'oidc-provider';

const setup = JSON.parse(process.env.OIDC_TEST_SETUP ?? '{}');
const issuer = `http://${setup.host}:${setup.port}`;

function signingKey(type, options, alg) {
  const jwk = generateKeyPairSync(type, options).privateKey.export({ format: 'jwk' });
  return { ...jwk, alg, use: 'sig', kid: `${alg.toLowerCase()}-${randomBytes(4).toString('hex')}` };
}

function nested(path, value) {
  return path.reduceRight((inner, key) => ({ [key]: inner }), value);
}

const accounts = setup.accounts;

const provider = new Provider(issuer, {
  clients: setup.clients.map((c) => ({
    client_id: c.client_id,
    ...(c.client_secret === undefined ? { token_endpoint_auth_method: 'none' } : { client_secret: c.client_secret, token_endpoint_auth_method: 'client_secret_basic' }),
    redirect_uris: c.redirect_uris,
    post_logout_redirect_uris: c.post_logout_redirect_uris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    id_token_signed_response_alg: 'RS256',
  })),
  jwks: { keys: [signingKey('rsa', { modulusLength: 2048 }, 'RS256'), signingKey('ec', { namedCurve: 'P-256' }, 'ES256')] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  // PKCE for every client, S256 only (the provider's default method list).
  pkce: { required: () => true },
  claims: { openid: ['sub'], profile: ['name'], email: ['email', 'email_verified'] },
  async findAccount(_ctx, id) {
    const account = accounts[id];
    if (account === undefined) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, name: account.name, email: account.email, email_verified: true }) };
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => oneOf ?? setup.resource,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, resourceIndicator) => {
        if (resourceIndicator !== setup.resource) throw new Provider.errors.InvalidTarget();
        return { scope: 'restaurant', audience: setup.audience, accessTokenTTL: 3600, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } };
      },
    },
  },
  async extraTokenClaims(_ctx, token) {
    if (token.kind !== 'AccessToken') return undefined;
    return nested(setup.rolesClaim, accounts[token.accountId]?.roles ?? []);
  },
});
provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error', err));

const server = provider.listen(setup.port, '127.0.0.1', () => console.log(`ready ${issuer}`));
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
