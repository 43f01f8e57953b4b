// Starting and stopping each role: the wiring of adapters to the pure core.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import type { AvroCodec } from '../infra/kafka/codec';
import type { Logger } from '../infra/logging';
import type { ConsumerGroupSource } from '../infra/metrics/lag-monitor';
import type { Metrics } from '../infra/metrics/registry';
import { KafkaCommandBus } from '../producers/command-bus/kafka-command-bus';
import { KafkaMenuCatalog } from '../producers/command-bus/menu-catalog';
import { createGatewayApp } from '../producers/gateway/app';
import { instrumentCommandBus } from '../producers/gateway/metrics';
import Redis from 'ioredis';
import { config } from '../infra/config';
import { httpAuth } from '../infra/auth/http-auth';
import { READ_MODEL_SPECS } from '../consumers/projections/runtime/read-models';
import { ServingProjector } from '../consumers/projections/runtime/serving';
import type { ReadModelName } from '../consumers/projections/shared/keys';
import { createLiveHub, createQueryApp } from '../consumers/query-api/app';
import { CheckpointWatcher } from '../consumers/query-api/consistency';
import { topicCatalog } from '../schemas/topics';
import { serveHttp } from '../infra/http/servers';
import { processManagerMetrics } from '../consumers/process-managers/runtime/metrics';
import { ProcessManagerRuntime, type ProcessManagerStats } from '../consumers/process-managers/runtime/runtime';
import type { ProcessDefinition } from '../consumers/process-managers/runtime/definition';
import { orderFulfilmentProcess } from '../consumers/process-managers/order-fulfilment/order-fulfilment.process';
import { KafkaPlacementFacts } from '../consumers/process-managers/order-fulfilment/placement-facts';
import { loyaltyProcess } from '../consumers/loyalty/loyalty.process';
import { paymentSimulatorProcess } from '../consumers/payment-simulator/payment-simulator.process';
import type { ProcessManagerName } from '../schemas/topics';
import type { RoleConfig } from './roles';
import { redisReadiness, type ReadinessCheck, type ReadinessState } from '../infra/http/readiness';

/** Runs `start`; if it fails, undoes what it did (`undo`, best effort) before throwing, so start-up can try again from nothing. */
export async function orUndo<T>(start: () => Promise<T>, undo: () => Promise<unknown>): Promise<T> {
  try {
    return await start();
  } catch (error) {
    await undo().catch(() => undefined);
    throw error;
  }
}
import { KafkaGatewayPrivacy } from '../producers/command-bus/kafka-privacy';
import { KafkaKeyStore, KeyStoreBehind } from '../infra/privacy/key-store';
import { PersonalDataOpener } from '../infra/privacy/personal-data';
import { privacySecrets } from '../infra/privacy/settings';

export interface Running {
  readonly name: string;
  /** The consumer groups the role runs now, for the lag monitor. */
  groups?(): readonly ConsumerGroupSource[];
  stop(): Promise<void>;
  /** What must hold for the role to be ready (docs/recovery.md); Kafka's reachability is the process's own check. */
  readonly readiness?: readonly ReadinessCheck[];
  /** A process manager's stats snapshot (instances by state, deadlines, failures, messages emitted). */
  readonly stats?: () => ProcessManagerStats;
}

export interface RoleDeps {
  readonly kafka: Kafka;
  readonly codec: AvroCodec;
  readonly logger: Logger;
  readonly settings: RoleConfig;
  /** The process registry, served on the operations port. */
  readonly metrics: Metrics;
  /** The process's readiness, which the roles' own ports answer on /readyz too. */
  readonly readiness?: () => ReadinessState;
  /** False while the process's probe finds Kafka not answering. */
  readonly kafkaAnswers?: () => boolean;
}

export async function startGateway({ kafka, codec, logger, settings, metrics, readiness, kafkaAnswers }: RoleDeps): Promise<Running> {
  const readinessDep = readiness === undefined ? {} : { readiness };
  const log = logger.child({ component: 'gateway' });
  const bus = new KafkaCommandBus({ kafka, codec, logger: log });
  const menu = new KafkaMenuCatalog(kafka, codec, log);
  const secrets = await privacySecrets();
  // Encryption off (benchmarks, migrations): commands carry plaintext as before encryption existed.
  const privacy = secrets.encryption ? new KafkaGatewayPrivacy(kafka, codec, secrets, log.child({ component: 'key-cache' })) : undefined;
  const undo = (): Promise<unknown> => Promise.allSettled([bus.stop(), menu.stop(), privacy?.stop()]);
  await orUndo(() => Promise.all([bus.start(), menu.start(), privacy?.start()]), undo);
  const auth = await orUndo(() => httpAuth(config().auth, log), undo);
  const app = createGatewayApp({
    bus: instrumentCommandBus(bus, metrics),
    menu,
    clock: Date.now,
    newId: randomUUID,
    replyWaitMs: settings.commandWaitMs,
    requestTimeoutMs: settings.requestTimeoutMs,
    ...(kafkaAnswers === undefined ? {} : { kafkaAnswers }),
    logger: log,
    authenticate: auth.middleware,
    ...(privacy === undefined ? {} : { privacy }),
  });
  // Listening once the bus and the menu view are connected and caught up; ready while they stay so.
  const server = await orUndo(() => serveHttp('gateway', app, settings.port, { log, metrics, ...readinessDep }, 'gateway listening'), undo);
  return {
    name: 'gateway',
    readiness: [{ notReady: () => bus.notReady() }, { notReady: () => menu.notReady() }],
    async stop() {
      await server.close();
      await Promise.all([bus.stop(), menu.stop(), privacy?.stop()]);
    },
  };
}

function redisClient(name: string): Redis {
  return new Redis(config().redis.url, { connectionName: name, maxRetriesPerRequest: 3, enableOfflineQueue: true });
}

/**
 * One read model's projector: its own consumer group and Redis connection, in
 * whichever keyspace serves the model (it follows a blue/green switch).
 */
export async function startProjector(model: ReadModelName, { kafka, codec, logger, settings, metrics }: RoleDeps): Promise<Running> {
  const redis = redisClient(`projector:${model}`);
  const projector = new ServingProjector({
    kafka,
    codec,
    redis,
    logger,
    model,
    base: settings.keyspace,
    metrics,
    retry: { attempts: settings.projectorAttempts, initialDelayMs: settings.projectorBackoffMs, maxDelayMs: 5_000 },
  });
  await orUndo(() => projector.start(), () => Promise.resolve(redis.disconnect()));
  return {
    name: `projector:${model}`,
    readiness: [{ notReady: () => projector.notReady(), broken: () => projector.broken() }, redisReadiness(`projector:${model}`, redis)],
    groups: () => {
      const current = projector.projector;
      return current ? [{ group: current.groupId, topics: READ_MODEL_SPECS[model].topics }] : [];
    },
    async stop() {
      await projector.stop();
      await redis.quit();
    },
  };
}

export async function startQueryApi({ kafka, logger, settings, metrics, readiness }: RoleDeps): Promise<Running> {
  const log = logger.child({ component: 'query-api' });
  const redis = redisClient('query-api');
  await orUndo(() => redis.ping(), () => Promise.resolve(redis.disconnect()));
  // The one role that shows personal data holds the other key cache (docs/privacy.md).
  const secrets = await orUndo(() => privacySecrets(), () => Promise.resolve(redis.disconnect()));
  const keys = new KafkaKeyStore(kafka, secrets.master, log.child({ component: 'key-cache' }));
  const keysUp = async (): Promise<void> => {
    if (!(await keys.start(120_000))) throw new KeyStoreBehind('the key cache did not catch up with the keys topic in time');
  };
  await orUndo(keysUp, async () => {
    await keys.stop();
    redis.disconnect();
  });
  // Start-up has verified the broker's topics against this catalog (main.ts), so its partition counts are the broker's.
  const catalog = topicCatalog({ partitions: config().topics.partitions });
  const checkpoints = new CheckpointWatcher(redis, redisClient('query-api:checkpoints'));
  const undo = async (): Promise<void> => {
    await checkpoints.close();
    await keys.stop();
    redis.disconnect();
  };
  const auth = await orUndo(() => httpAuth(config().auth, log), undo);
  const serving = {
    redis,
    keyspace: settings.keyspace,
    partitionsOf: (topic: string) => catalog.topic(topic).partitions,
    consistencyWaitMs: settings.consistencyWaitMs,
    checkpoints,
  };
  const live = createLiveHub({ ...serving, logger: log.child({ component: 'live' }), settings: { heartbeatMs: settings.liveHeartbeatMs } });
  metrics.gauge({
    name: 'restaurant_live_streams',
    help: 'Server-sent-event streams the query API has open now (docs/live-updates.md).',
    collect() {
      this.set(live.openStreams);
    },
  });
  metrics.gauge({
    name: 'restaurant_live_feeds',
    help: 'Live collection feeds the query API follows now: one per watched collection, kept a while after its last subscriber leaves.',
    collect() {
      this.set(live.openFeeds);
    },
  });
  const app = createQueryApp({
    ...serving,
    authenticate: auth.middleware,
    clock: Date.now,
    logger: log,
    orderSettings: { maxOrderTotalMinor: settings.maxOrderTotalMinor },
    live,
    personalData: new PersonalDataOpener(keys, log.child({ component: 'personal-data' })),
  });
  const server = await orUndo(
    () => serveHttp('query', app, settings.queryPort, { log: log.child({ keyspace: settings.keyspace }), metrics, ...(readiness === undefined ? {} : { readiness }) }, 'query API listening'),
    async () => {
      await live.close();
      await undo();
    },
  );
  return {
    name: 'query',
    readiness: [redisReadiness('query', redis)],
    async stop() {
      // Open live streams would keep the server from closing.
      await live.close();
      await server.close();
      await checkpoints.close();
      await keys.stop();
      await redis.quit();
    },
  };
}

/** A stateful consumer on the process-manager runtime: order fulfilment, the loyalty policy or the payment simulator. */
/** Stats of the process managers this process runs, for their metrics (declared once per process). */
const runningProcessManagers = new Set<{ stats(): ProcessManagerStats }>();

export async function startProcessManager(name: ProcessManagerName, { kafka, codec, logger, settings, metrics }: RoleDeps): Promise<Running> {
  processManagerMetrics(metrics, () => [...runningProcessManagers].map((r) => r.stats()));
  const start = async <S, I>(definition: ProcessDefinition<S, I>): Promise<Running> => {
    const runtime = new ProcessManagerRuntime({
      kafka,
      codec,
      logger,
      definition,
      ...(settings.stateDir === undefined ? {} : { stateDir: join(settings.stateDir, definition.groupId) }),
      changelogEpoch: settings.changelogEpoch,
    });
    await orUndo(() => runtime.start(), () => runtime.stop());
    runningProcessManagers.add(runtime);
    return {
      name,
      readiness: [{ notReady: () => runtime.notReady(), broken: () => runtime.broken() }],
      groups: () => [{ group: runtime.groupId, topics: [...definition.inputs] }],
      async stop() {
        runningProcessManagers.delete(runtime);
        await runtime.stop();
      },
      stats: () => runtime.stats(),
    };
  };
  return withProcessDefinition(name, { kafka, codec, logger, settings }, start);
}

/** Hands the process manager's definition, made with this process's settings, to `use` (whatever its state and input types). */
export function withProcessDefinition<R>(
  name: ProcessManagerName,
  { kafka, codec, logger, settings }: Pick<RoleDeps, 'kafka' | 'codec' | 'logger' | 'settings'>,
  use: <S, I>(definition: ProcessDefinition<S, I>) => R,
): R {
  switch (name) {
    case 'order-fulfilment':
      return use(orderFulfilmentProcess({ facts: new KafkaPlacementFacts(kafka, codec, logger.child({ component: 'placement-facts' })), config: settings.fulfilment }));
    case 'loyalty':
      return use(loyaltyProcess());
    case 'payment-simulator':
      return use(paymentSimulatorProcess({ seed: settings.simulatorSeed, config: settings.simulator }));
  }
}
