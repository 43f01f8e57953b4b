/**
 * Least privilege on Kafka (docs/least-privilege.md): a secured broker of this
 * test's own (SASL/SCRAM-SHA-512, StandardAuthorizer, nothing allowed without
 * an ACL), the topic catalog created on it, the ACL catalog applied, then:
 *
 * - the broker refuses what a role must not do: the gateway writing an events
 *   or snapshots topic, a projector writing anything but its DLQ, a role
 *   joining another role's consumer group, a transactional id outside the
 *   role's prefix;
 * - every role, each as its own principal in its own process, starts and does
 *   its work: a menu item, a customer and an order go through the gateway and
 *   the command processor, the order is paid (order fulfilment and the payment
 *   simulator), cooked and delivered (loyalty awards points), and each read
 *   model answers through the query API.
 *
 * The schema registry and Redis are the normal stack's; on Redis, too, the
 * projectors and the query API run as their own ACL users (created under this
 * run's names, deleted afterwards).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import type Redis from 'ioredis';
import { logLevel, type Kafka, type LogEntry } from 'kafkajs';
import { kafkaAccess, kafkaAclPrincipals, principalName } from '../../app/kafka-access';
import type { AccessRole } from '../../infra/kafka/principals';
import type { Role } from '../../app/roles';
import { applyAcls } from '../../infra/kafka/acls';
import { redisAccess, redisUserName, REDIS_ROLES, type RedisRole } from '../../app/redis-access';
import { config } from '../../infra/config';
import { applyRedisUsers, deleteRedisUsers, urlWithUser } from '../../infra/redis/acl';
import { newPassword } from '../../infra/stack/credentials';
import { repoRoot } from '../../infra/stack/settings';
import { allTopicSpecs, applyTopics } from '../../infra/kafka/topics';
import { READ_MODELS } from '../../consumers/projections/shared/keys';
import { COMMAND_REPLIES_TOPIC, DEAD_LETTER_ACTIONS_TOPIC, dlqTopicName, paymentTopicName, topicCatalog, topicName } from '../../schemas/topics';
import { api } from '../support/api-client';
import { testRedis, unique } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';
import { startRole, type RoleProcess } from '../../app/chaos/role-process';
import { KAFKA_ADMIN, startSecuredKafka, type SecuredKafka } from '../support/secured-kafka';

jest.setTimeout(180_000);

// The roles' own catalogs have the default partition counts.
const catalog = topicCatalog();
const keyspace = unique('acl').toLowerCase();
const redisPrefix = `${unique('e2e-acl')}.`;
const redisUsers = redisAccess(redisPrefix);
const redisPasswords = new Map(redisUsers.map((u) => [u.name, newPassword()]));
let broker: SecuredKafka;
let redis: Redis;
const roles = new Map<string, RoleProcess>();
const timings: Record<string, number> = {};

/** Every error type in a kafkajs error and what it wraps. */
function errorTypes(error: unknown, seen = new Set<unknown>()): string[] {
  if (typeof error !== 'object' || error === null || seen.has(error)) return [];
  seen.add(error);
  const e = error as { type?: unknown; cause?: unknown; originalError?: unknown; errors?: unknown };
  return [
    ...(typeof e.type === 'string' ? [e.type] : []),
    ...errorTypes(e.cause, seen),
    ...errorTypes(e.originalError, seen),
    ...(Array.isArray(e.errors) ? e.errors.flatMap((x) => errorTypes(x, seen)) : []),
  ];
}

/** 'allowed', or the broker's error types of the refusal. */
async function outcome(attempt: () => Promise<unknown>): Promise<string> {
  try {
    await attempt();
    return 'allowed';
  } catch (error) {
    const types = errorTypes(error);
    return types.length > 0 ? [...new Set(types)].join(',') : `failed: ${(error as Error).message}`;
  }
}

/** kafkajs's messages of the broker's refusals (kafkajs/src/protocol/error.js), by error type. */
const REFUSALS: Readonly<Record<string, string>> = {
  'Not authorized to access group: Group authorization failed': 'GROUP_AUTHORIZATION_FAILED',
  'Not authorized to access topics: [Topic authorization failed]': 'TOPIC_AUTHORIZATION_FAILED',
  'Transactional Id authorization failed': 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
};

/**
 * A client of this SASL user that notes the broker's refusals as kafkajs logs
 * them: a refused FindCoordinator (group or transactional id) surfaces from
 * kafkajs only as "Failed to find group coordinator", the broker's error code
 * is in the log.
 */
function clientAs(user: string): { readonly kafka: Kafka; outcome(attempt: () => Promise<unknown>): Promise<string> } {
  const refusals = new Set<string>();
  const creator = (): ((entry: LogEntry) => void) => ({ log }) => {
    const type = typeof log.error === 'string' ? REFUSALS[log.error] : undefined;
    if (type !== undefined) refusals.add(type);
  };
  const kafka = broker.kafkaAs(user, `test.${user}`, { level: logLevel.ERROR, creator });
  return {
    kafka,
    async outcome(attempt) {
      const result = await outcome(attempt);
      return result === 'allowed' || refusals.size === 0 ? result : [...refusals].join(',');
    },
  };
}

async function produceAs(user: string, topic: string, idempotent = false): Promise<string> {
  const client = clientAs(user);
  // An idempotent producer must be allowed retries (kafkajs); an authorization failure is never retried.
  const producer = client.kafka.producer(idempotent ? { idempotent: true, maxInFlightRequests: 1, retry: { retries: 2 } } : { retry: { retries: 0 } });
  await producer.connect();
  try {
    return await client.outcome(() => producer.send({ topic, acks: -1, messages: [{ key: 'acl-test', value: 'not a record', partition: 0 }] }));
  } finally {
    await producer.disconnect();
  }
}

async function joinAs(user: string, groupId: string, topic: string): Promise<string> {
  const client = clientAs(user);
  const consumer = client.kafka.consumer({ groupId, retry: { retries: 0 } });
  const crashed = new Promise<never>((_, reject) => consumer.on(consumer.events.CRASH, ({ payload }) => reject(payload.error)));
  crashed.catch(() => undefined);
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    return await client.outcome(async () => {
      await Promise.race([consumer.run({ eachMessage: async () => undefined }), crashed]);
      await Promise.race([joined, crashed]);
    });
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
}

async function transactionAs(user: string, transactionalId: string): Promise<string> {
  const client = clientAs(user);
  const producer = client.kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1, retry: { retries: 1, initialRetryTime: 50 } });
  try {
    // kafkajs asks for the producer id (InitProducerId, where the broker checks the id) with the first transaction.
    return await client.outcome(async () => {
      await producer.connect();
      const transaction = await producer.transaction();
      await transaction.abort();
    });
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
}

const as = (role: AccessRole): string => principalName(role);

const RUNTIME_ROLES: ReadonlyArray<Role & AccessRole> = ['command-processor', 'gateway', ...READ_MODELS.map((m) => `projector:${m}` as const), 'query', 'process-manager:order-fulfilment', 'payment-simulator', 'loyalty'];

beforeAll(async () => {
  const started = Date.now();
  redis = testRedis();
  await redis.connect();
  await applyRedisUsers(redis, redisUsers, (name) => redisPasswords.get(name) as string);
  broker = await startSecuredKafka();
  timings.brokerUpMs = Date.now() - started;
  const admin = broker.kafkaAs(KAFKA_ADMIN).admin();
  await admin.connect();
  try {
    const applied = await applyAcls(admin, kafkaAclPrincipals(kafkaAccess(catalog)));
    expect(applied.created).toBeGreaterThan(100);
    // Idempotent: a second run changes nothing.
    expect(await applyAcls(admin, kafkaAclPrincipals(kafkaAccess(catalog)))).toEqual({ created: 0, deleted: 0, unchanged: applied.created });
  } finally {
    await admin.disconnect();
  }
  // topics:apply's code, as its own principal (ACLs may name topics before they exist).
  const topicsApply = broker.kafkaAs(as('topics-apply')).admin();
  await topicsApply.connect();
  try {
    const result = await applyTopics(topicsApply, allTopicSpecs(catalog));
    expect(result.created.length).toBe(allTopicSpecs(catalog).length);
  } finally {
    await topicsApply.disconnect();
  }
  timings.preparedMs = Date.now() - started;
});

afterAll(async () => {
  await Promise.all([...roles.values()].map((r) => r.stop().catch(() => null)));
  await broker?.stop();
  if (redis !== undefined) {
    await deleteRedisUsers(redis, redisUsers.map((u) => u.name));
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `rm:{${keyspace}}:*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
    redis.disconnect();
  }
  console.log(`secured-kafka timings: ${JSON.stringify(timings)}`);
});

describe('the secured broker refuses what a role must not do', () => {
  it('the gateway cannot write an events or a snapshots topic', async () => {
    expect(await produceAs(as('gateway'), topicName('order', 'events'))).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await produceAs(as('gateway'), topicName('menu', 'snapshots'))).toBe('TOPIC_AUTHORIZATION_FAILED');
  });

  it('a projector can write nothing but the dead-letter topic of what it reads', async () => {
    const orderEvents = topicName('order', 'events');
    for (const topic of [orderEvents, topicName('order', 'commands'), topicName('order', 'snapshots'), COMMAND_REPLIES_TOPIC, dlqTopicName(topicName('menu', 'events'))]) {
      expect([topic, await produceAs(as('projector:orders'), topic)]).toEqual([topic, 'TOPIC_AUTHORIZATION_FAILED']);
    }
    // Allowed once the fresh broker has a leader for the partition (NOT_LEADER_FOR_PARTITION until then).
    const ownDlq = async (): Promise<string | undefined> => ((await produceAs(as('projector:orders'), dlqTopicName(orderEvents))) === 'allowed' ? 'allowed' : undefined);
    expect(await waitFor('a dead letter written as projector:orders', ownDlq, 30_000, 500)).toBe('allowed');
  });

  it('the admin API records its actions (idempotent producer, as it runs) but cannot write events, dead letters or replies; no other role may record one', async () => {
    // Allowed once the fresh broker has a leader for the partition.
    const recorded = async (): Promise<string | undefined> => ((await produceAs(as('admin-api'), DEAD_LETTER_ACTIONS_TOPIC, true)) === 'allowed' ? 'allowed' : undefined);
    expect(await waitFor('an action record written as admin-api', recorded, 30_000, 500)).toBe('allowed');
    for (const topic of [topicName('order', 'events'), dlqTopicName(topicName('order', 'events')), COMMAND_REPLIES_TOPIC]) {
      expect([topic, await produceAs(as('admin-api'), topic)]).toEqual([topic, 'TOPIC_AUTHORIZATION_FAILED']);
    }
    expect(await produceAs(as('query'), DEAD_LETTER_ACTIONS_TOPIC)).toBe('TOPIC_AUTHORIZATION_FAILED');
  });

  it('each payment topic has one writer: order fulfilment cannot write a provider\'s answer, the simulator cannot write a request', async () => {
    expect(await produceAs(as('process-manager:order-fulfilment'), paymentTopicName('results'))).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await produceAs(as('payment-simulator'), paymentTopicName('requests'))).toBe('TOPIC_AUTHORIZATION_FAILED');
  });

  it('a role cannot join another role’s consumer group', async () => {
    expect(await joinAs(as('projector:menu'), 'restaurant.command-processor', topicName('menu', 'events'))).toBe('GROUP_AUTHORIZATION_FAILED');
    expect(await joinAs(as('loyalty'), 'restaurant.projection.orders', topicName('order', 'events'))).toBe('GROUP_AUTHORIZATION_FAILED');
  });

  it('a transactional id outside the role’s prefix is refused', async () => {
    // Its own prefix is allowed (once the fresh broker has created its transaction log: until then, no coordinator).
    const own = async (): Promise<string | undefined> => ((await transactionAs(as('loyalty'), 'restaurant.loyalty.acl-test')) === 'allowed' ? 'allowed' : undefined);
    expect(await waitFor('a transaction with loyalty’s own transactional id', own, 30_000, 500)).toBe('allowed');
    expect(await transactionAs(as('loyalty'), 'restaurant.command-processor.p0')).toBe('TRANSACTIONAL_ID_AUTHORIZATION_FAILED');
    expect(await transactionAs(as('command-processor'), 'restaurant.loyalty.0')).toBe('TRANSACTIONAL_ID_AUTHORIZATION_FAILED');
    expect(await transactionAs(as('gateway'), 'restaurant.gateway.0')).toBe('TRANSACTIONAL_ID_AUTHORIZATION_FAILED');
  });
});

/** A role's environment: its Kafka principal, its Redis user (if it uses Redis), this run's keyspace. */
function roleEnv(role: AccessRole): Record<string, string> {
  const redisUrl = (): Record<string, string> => {
    if (!(REDIS_ROLES as readonly string[]).includes(role)) return {};
    const name = redisUserName(role as RedisRole, redisPrefix);
    return { REDIS_URL: urlWithUser(config().redis.url, name, redisPasswords.get(name) as string) };
  };
  return {
    ...broker.envFor(as(role)),
    ...redisUrl(),
    READ_MODEL_KEYSPACE: keyspace,
    COMMAND_WAIT_MS: '20000',
    PAYMENT_SIMULATOR_DECLINE_SHARE: '0',
    PAYMENT_SIMULATOR_STALL_SHARE: '0',
    PAYMENT_SIMULATOR_ANSWER_DELAY_MS: '10-50',
  };
}

describe('the system works under it, each role as its own principal', () => {
  beforeAll(async () => {
    const started = Date.now();
    const started_ = await Promise.allSettled(RUNTIME_ROLES.map(async (role) => roles.set(role, await startRole(role, roleEnv(role)))));
    const failed = started_.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    expect(failed).toEqual([]);
    timings.rolesUpMs = Date.now() - started;
  });

  const url = (role: Role): string => (roles.get(role) as RoleProcess).url;

  async function runReplay(group: string): Promise<{ code: number | null; output: string }> {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'consumers', 'projections', 'replay', 'cli.ts'), group, '--to', 'earliest', '--metrics-port', '0'], {
      cwd: repoRoot,
      env: { ...process.env, ...roleEnv('replay') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(timer);
    return { code, output };
  }

  it('a command through the gateway is accepted, projected into Redis and readable through the query API, and an order runs its whole course', async () => {
    try {
      await wholeCourse();
    } catch (error) {
      for (const [role, process] of roles) console.error(`---- ${role} ----\n${process.output().slice(-3000)}`);
      throw error;
    }
    // No role was refused anything along the way.
    for (const [role, process] of roles) expect([role, /AUTHORIZATION_FAILED|NOPERM/.exec(process.output())?.[0]]).toEqual([role, undefined]);
  });

  async function wholeCourse(): Promise<void> {
    const started = Date.now();
    const gateway = url('gateway');
    const query = url('query');
    const send = async (path: string, body?: unknown): Promise<Record<string, unknown>> => {
      const reply = await api(gateway, 'POST', path, body);
      if (reply.status >= 300) throw new Error(`${path}: ${reply.status} ${JSON.stringify(reply.body)}`);
      return reply.body;
    };
    const item = await send('/menu/items', { name: 'Least privilege pizza', description: 'e2e', category: 'MAIN', price: { amountMinor: 1200, currency: 'EUR' } });
    const menuItemId = item.aggregateId as string;
    let last: unknown;
    const menu = await waitFor(`the menu item in the query API (added: ${JSON.stringify(item)})`, async () => {
      const r = await api(query, 'GET', `/menu?consistency=${encodeURIComponent(String(item.consistencyToken ?? ''))}`);
      last = r.body;
      return r.status === 200 && JSON.stringify(r.body).includes(menuItemId) ? r.body : undefined;
    }).catch((error: unknown) => Promise.reject(new Error(`${(error as Error).message}; the query API answered ${JSON.stringify(last)}`, { cause: error })));
    expect(JSON.stringify(menu)).toContain('Least privilege pizza');

    const customer = await send('/customers', { name: 'ACL customer', email: `${keyspace}@example.com` });
    const customerId = customer.aggregateId as string;
    await waitFor('the customer in the query API', async () => ((await api(query, 'GET', `/customers/${customerId}`)).status === 200 ? true : undefined));

    const order = await send('/orders', { customerId });
    const orderId = order.aggregateId as string;
    await send(`/orders/${orderId}/items`, { menuItemId, quantity: 2 });
    await send(`/orders/${orderId}/delivery-address`, { address: { line1: 'Dam 1', line2: null, city: 'Amsterdam', postalCode: '1012 JS', country: 'NL' } });
    await send(`/orders/${orderId}/place`);
    // Paid: order fulfilment asked the payment simulator, which answered; the fulfilment process confirmed the order.
    const statusOf = async (): Promise<string | undefined> => {
      const r = await api(query, 'GET', `/orders/${orderId}`);
      return r.status === 200 ? ((r.body.order as { status?: string } | undefined)?.status ?? (r.body.status as string | undefined)) : undefined;
    };
    await waitFor('the order confirmed after payment', async () => ((await statusOf()) === 'CONFIRMED' ? true : undefined), 60_000);
    await waitFor('the order in the kitchen queue', async () => (JSON.stringify((await api(query, 'GET', '/kitchen/queue')).body).includes(orderId) ? true : undefined));
    for (const step of ['start-preparation', 'ready', 'dispatch', 'deliver']) await send(`/orders/${orderId}/${step}`);
    await waitFor('the order delivered', async () => ((await statusOf()) === 'DELIVERED' ? true : undefined), 30_000);
    const sales = await waitFor('the sale in the sales statistics', async () => {
      const day = (offset: number): string => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
      const r = await api(query, 'GET', `/stats/items?from=${day(-1)}&to=${day(1)}`);
      return r.status === 200 && JSON.stringify(r.body).includes(menuItemId) ? r.body : undefined;
    });
    expect(JSON.stringify(sales)).toContain(menuItemId);

    // Loyalty (choreography) awarded points for the delivered order on its own events topic.
    const admin = broker.kafkaAs(KAFKA_ADMIN).admin();
    await admin.connect();
    try {
      await waitFor('a loyalty award', async () => {
        const offsets = await admin.fetchTopicOffsets(topicName('loyalty', 'events'));
        return offsets.some((o) => Number(o.high) > 0) ? true : undefined;
      });
    } finally {
      await admin.disconnect();
    }
    timings.flowMs = Date.now() - started;

    // npm run replay, as its own principal and Redis user: the menu model rebuilt from the start, its projector stopped.
    const replayStarted = Date.now();
    expect(await (roles.get('projector:menu') as RoleProcess).stop()).toBe(0);
    roles.delete('projector:menu');
    const replay = await runReplay(`restaurant.projection.menu.${keyspace}`);
    expect([replay.code, replay.output.match(/AUTHORIZATION_FAILED|NOPERM/)?.[0]]).toEqual([0, undefined]);
    const rebuilt = await api(query, 'GET', '/menu');
    expect(JSON.stringify(rebuilt.body)).toContain(menuItemId);
    timings.replayMs = Date.now() - replayStarted;
  }
});

