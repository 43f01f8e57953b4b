/**
 * Least privilege below the HTTP APIs (docs/least-privilege.md):
 *
 *   npm run kafka:acls           applies the Kafka ACL catalog (kafka-access.ts) as a super user
 *   npm run redis:acl            creates or redefines the Redis ACL users (redis-access.ts)
 *   npm run -s access:env <role> prints the exports a role needs on the secured local stack
 *
 * Against the local stack (STACK_KAFKA_SECURITY=sasl) the super user and every
 * password come from <STACK_HOME>/credentials.json; against a real cluster set
 * KAFKA_SASL_* (and KAFKA_SSL*) to a super user's, and REDIS_URL to a user
 * that may run ACL SETUSER. Both commands are idempotent.
 */
import Redis from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { config } from '../infra/config';
import { applyAcls } from '../infra/kafka/acls';
import { createKafka, kafkaSecurity } from '../infra/kafka/client';
import { applyRedisUsers, urlWithUser } from '../infra/redis/acl';
import { ensureCredentials } from '../infra/stack/credentials';
import { stackAdminSasl } from '../infra/stack/services';
import { readStackSettings } from '../infra/stack/settings';
import { topicCatalog } from '../schemas/topics';
import { kafkaAccess, kafkaAclPrincipals } from './kafka-access';
import { isAccessRole, kafkaUsers, principalName, KAFKA_PRINCIPAL_ROLES } from '../infra/kafka/principals';
import { redisAccess, redisUserName, REDIS_ROLES, type RedisRole } from './redis-access';

class UsageError extends Error {}

/** A super user's client: KAFKA_SASL_* when set, else the local secured stack's admin. */
function adminKafka(): Kafka {
  if (config().kafka.sasl !== undefined) return createKafka('kafka-acls');
  const sasl = stackAdminSasl(readStackSettings());
  if (sasl === undefined) {
    throw new UsageError('the broker takes no credentials, so it has no ACLs to apply: run the local stack with STACK_KAFKA_SECURITY=sasl, or set KAFKA_SASL_* to a super user of a secured cluster');
  }
  return new Kafka({ clientId: `${config().kafka.clientId}.kafka-acls`, brokers: [...config().kafka.brokers], ...kafkaSecurity(), sasl, logLevel: logLevel.WARN });
}

async function kafkaAcls(): Promise<void> {
  const admin = adminKafka().admin();
  await admin.connect();
  try {
    const result = await applyAcls(admin, kafkaAclPrincipals(kafkaAccess(topicCatalog({ partitions: config().topics.partitions }))));
    console.log(`kafka ACLs: ${result.created} created, ${result.deleted} deleted, ${result.unchanged} unchanged, for ${KAFKA_PRINCIPAL_ROLES.length} principals`);
  } finally {
    await admin.disconnect();
  }
}

const redisPrefix = (): string => process.env.REDIS_ACL_PREFIX ?? '';
const redisPasswords = (): Readonly<Record<string, string>> =>
  ensureCredentials(readStackSettings().home, { redis: REDIS_ROLES.map((r) => redisUserName(r, redisPrefix())) }).redis;

async function redisAcl(): Promise<void> {
  const users = redisAccess(redisPrefix());
  const passwords = redisPasswords();
  const redis = new Redis(config().redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    await applyRedisUsers(redis, users, (name) => passwords[name] as string);
    console.log(`redis ACL users: ${users.map((u) => u.name).join(', ')} (passwords in ${readStackSettings().home}/credentials.json)`);
  } finally {
    redis.disconnect();
  }
}

function accessEnv(role: string | undefined): void {
  if (role === undefined || !isAccessRole(role)) throw new UsageError(`access:env needs a role: one of ${KAFKA_PRINCIPAL_ROLES.join(', ')}`);
  const settings = readStackSettings();
  const lines: string[] = [];
  if (settings.kafka.security === 'sasl') {
    const name = principalName(role);
    const password = ensureCredentials(settings.home, { kafka: kafkaUsers() }).kafka[name] as string;
    lines.push('export KAFKA_SASL_MECHANISM=scram-sha-512', `export KAFKA_SASL_USERNAME=${name}`, `export KAFKA_SASL_PASSWORD=${password}`);
  }
  if ((REDIS_ROLES as readonly string[]).includes(role)) {
    const name = redisUserName(role as RedisRole, redisPrefix());
    lines.push(`export REDIS_URL=${urlWithUser(config().redis.url, name, redisPasswords()[name] as string)}`);
  }
  console.log(lines.join('\n'));
}

async function main([verb, arg]: readonly string[]): Promise<void> {
  switch (verb) {
    case 'kafka':
      return kafkaAcls();
    case 'redis':
      return redisAcl();
    case 'env':
      return accessEnv(arg);
    default:
      throw new UsageError('usage: tsx app/access-cli.ts kafka | redis | env <role>');
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`access: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
