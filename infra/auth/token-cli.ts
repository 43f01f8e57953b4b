// npm run -s token -- --role <role> [--role <role>...] [--sub <id>] [--ttl <seconds>]
//
// Mints a token with the local signing key (generated on first use under
// <STACK_HOME>/auth) and prints it, for curl and local tools:
//   TOKEN=$(npm run -s token -- --role manager)
//   curl -H "Authorization: Bearer $TOKEN" ...
// The subject defaults to `local-<role>`; a customer's subject is their customer id.
import { parseArgs } from 'node:util';
import { ROLES, isRole } from '../../schemas/roles';
import { readStackSettings } from '../stack/settings';
import { mintToken } from './local-issuer';
import { localSigningKey } from './local-keys';
import { readAuthSettings } from './settings';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { role: { type: 'string', multiple: true }, sub: { type: 'string' }, ttl: { type: 'string' } },
    strict: true,
  });
  const roles = (values.role ?? []).flatMap((r) => r.split(','));
  if (roles.length === 0 || !roles.every(isRole)) throw new Error(`--role must be one of ${ROLES.join(', ')} (repeatable)`);
  const ttl = values.ttl === undefined ? 3600 : Number(values.ttl);
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 30 * 24 * 3600) throw new Error('--ttl must be whole seconds, at most 30 days');
  const settings = readAuthSettings(process.env, readStackSettings().home);
  if (settings.mode === 'jwks') throw new Error('AUTH_JWKS_URL is set: tokens come from your identity provider, not from the local key');
  const key = await localSigningKey(settings.localKeyDir);
  const token = await mintToken(key, {
    subject: values.sub ?? `local-${roles[0] ?? 'user'}`,
    roles,
    issuer: settings.issuer,
    audience: settings.audience,
    rolesClaim: settings.rolesClaim,
    ttlSeconds: ttl,
  });
  process.stdout.write(`${token}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`token: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
