// The Redis ACL catalog (docs/least-privilege.md): a projector writes only its
// read model's keys (rm:{<keyspace>}:<model>:*, every keyspace: blue/green
// builds new ones) and reads which keyspace serves it; it publishes its
// checkpoint moves on its checkpoint key's channel. The query API only reads
// read-model keys and subscribes to the checkpoint channels. The admin API
// (ROLE=admin-api) reads and writes read-model keys to redrive and skip parked
// aggregates, and reads the serving pointers; it neither publishes nor
// subscribes, nor touches the pointers. The replay tool
// rebuilds any read model. Every user may ask INFO (ioredis's ready check) and
// name its connection; nothing may run dangerous commands (FLUSHALL, KEYS,
// CONFIG, DEBUG...).
import { READ_MODELS, type ReadModelName } from '../consumers/projections/shared/keys';
import type { RedisAclUser } from '../infra/redis/acl';

export const REDIS_ROLES = [...READ_MODELS.map((m) => `projector:${m}` as const), 'query', 'admin-api', 'replay', 'projectors', 'all'] as const;
export type RedisRole = (typeof REDIS_ROLES)[number];

/** The Redis user name of a role, with an optional prefix (tests, or several deployments on one Redis). */
export const redisUserName = (role: RedisRole, prefix = ''): string => `${prefix}${role.replace(/:/g, '.')}`;

const CONNECTION = ['+@connection', '-@dangerous', '+info', '+client|setname'];
/** Reads and writes on the keys the user's patterns allow, atomic batches (MULTI, the batch script), nothing dangerous. */
const READ_WRITE = ['+@read', '+@write', '+@transaction', '+eval', '+evalsha', '+script|load', '+script|exists', '+publish'];

function projectorRules(models: readonly ReadModelName[]): string[] {
  return [
    ...models.map((m) => `~rm:{*}:${m}:*`),
    // Which keyspace serves the model (a blue/green switch moves it).
    '%R~rm:{*}:serving',
    ...models.map((m) => `&rm:{*}:${m}:checkpoint`),
    ...READ_WRITE,
    ...CONNECTION,
  ];
}

/** Redrive and skip (consumers/projections/redrive): the batch script and the unpark/skip scripts on any read model's keys, in any keyspace. */
const ADMIN_API_RULES = [
  ...READ_MODELS.map((m) => `~rm:{*}:${m}:*`),
  '%R~rm:{*}:serving',
  '+@read',
  '+@write',
  '+@transaction',
  '+eval',
  '+evalsha',
  '+script|load',
  '+script|exists',
  ...CONNECTION,
];

const QUERY_RULES = ['%R~rm:*', '&rm:{*}:*:checkpoint', '+@read', '+subscribe', '+unsubscribe', ...CONNECTION];

export function redisAccess(prefix = ''): RedisAclUser[] {
  const user = (role: RedisRole, rules: string[]): RedisAclUser => ({ name: redisUserName(role, prefix), rules: ['-@all', ...rules] });
  return [
    ...READ_MODELS.map((m) => user(`projector:${m}`, projectorRules([m]))),
    user('query', QUERY_RULES),
    user('admin-api', ADMIN_API_RULES),
    // npm run replay: clears and rebuilds any read model, switches the serving pointer, counts generations.
    user('replay', ['~rm:*', '&rm:*', ...READ_WRITE, '+scan', '+unlink', ...CONNECTION]),
    user('projectors', projectorRules(READ_MODELS)),
    // ROLE=all runs the projectors and the query API in one process: their union.
    user('all', [...projectorRules(READ_MODELS), '%R~rm:*', '&rm:{*}:*:checkpoint', '+subscribe', '+unsubscribe']),
  ];
}
