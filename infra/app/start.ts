// Starting and stopping each role: the wiring of adapters to the pure core.
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { AvroCodec } from '../kafka/codec';
import type { Logger } from '../logging';
import type { ConsumerGroupSource } from '../metrics/lag-monitor';
import type { Metrics } from '../metrics/registry';
import { KafkaCommandBus } from '../../producers/command-bus/kafka-command-bus';
import { KafkaMenuCatalog } from '../../producers/command-bus/menu-catalog';
import { commandProcessorMetrics, heldAggregatesMetric } from '../../producers/command-processor/metrics';
import { CommandProcessor, DEFAULT_GROUP } from '../../producers/command-processor/processor';
import { createGatewayApp } from '../../producers/gateway/app';
import { instrumentCommandBus } from '../../producers/gateway/metrics';
import Redis from 'ioredis';
import { config } from '../config';
import { httpAuth } from '../auth/http-auth';
import { READ_MODEL_SPECS } from '../../consumers/projections/runtime/read-models';
import { ServingProjector } from '../../consumers/projections/runtime/serving';
import type { ReadModelName } from '../../consumers/projections/shared/keys';
import { createLiveHub, createQueryApp } from '../../consumers/query-api/app';
import { CheckpointWatcher } from '../../consumers/query-api/consistency';
import { topicCatalog } from '../../schemas/topics';
import { serveHttp } from './http';
import { processManagerMetrics } from '../../consumers/process-managers/runtime/metrics';
import { ProcessManagerRuntime, type ProcessManagerStats } from '../../consumers/process-managers/runtime/runtime';
import type { ProcessDefinition } from '../../consumers/process-managers/runtime/definition';
import { orderFulfilmentProcess } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.process';
import { KafkaPlacementFacts } from '../../consumers/process-managers/order-fulfilment/placement-facts';
import { loyaltyProcess } from '../../consumers/loyalty/loyalty.process';
import { paymentSimulatorProcess } from '../../consumers/payment-simulator/payment-simulator.process';
import type { ProcessManagerName } from '../../schemas/topics';
import type { RoleConfig } from './roles';

export interface Running {
  readonly name: string;
  /** The consumer groups the role runs now, for the lag monitor. */
  groups?(): readonly ConsumerGroupSource[];
  stop(): Promise<void>;
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
}

export async function startCommandProcessor({ kafka, codec, logger, settings, metrics }: RoleDeps): Promise<Running> {
  const processor = new CommandProcessor({
    kafka,
    codec,
    logger: logger.child({ component: 'command-processor' }),
    context: { order: { maxOrderTotalMinor: settings.maxOrderTotalMinor } },
    metrics: commandProcessorMetrics(metrics),
    partitionsPerWorker: settings.commandPartitionsPerWorker,
  });
  await processor.start();
  heldAggregatesMetric(metrics, () => processor.aggregatesHeld());
  return { name: 'command-processor', groups: () => [{ group: DEFAULT_GROUP, topics: processor.commandTopics }], stop: () => processor.stop() };
}

export async function startGateway({ kafka, codec, logger, settings, metrics }: RoleDeps): Promise<Running> {
  const log = logger.child({ component: 'gateway' });
  const bus = new KafkaCommandBus({ kafka, codec, logger: log });
  const menu = new KafkaMenuCatalog(kafka, codec, log);
  await Promise.all([bus.start(), menu.start()]);
  const auth = await httpAuth(config().auth, log);
  const app = createGatewayApp({
    bus: instrumentCommandBus(bus, metrics),
    menu,
    clock: Date.now,
    newId: randomUUID,
    replyWaitMs: settings.commandWaitMs,
    logger: log,
    authenticate: auth.middleware,
  });
  // Ready when listening: the bus and the menu view are connected and caught up before this.
  const server = await serveHttp('gateway', app, settings.port, { log, metrics }, 'gateway listening');
  return {
    name: 'gateway',
    async stop() {
      await server.close();
      await Promise.all([bus.stop(), menu.stop()]);
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
  await projector.start();
  return {
    name: `projector:${model}`,
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

export async function startQueryApi({ logger, settings, metrics }: RoleDeps): Promise<Running> {
  const log = logger.child({ component: 'query-api' });
  const redis = redisClient('query-api');
  await redis.ping();
  // Start-up has verified the broker's topics against this catalog (main.ts), so its partition counts are the broker's.
  const catalog = topicCatalog({ partitions: config().topics.partitions });
  const checkpoints = new CheckpointWatcher(redis, redisClient('query-api:checkpoints'));
  const auth = await httpAuth(config().auth, log);
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
  });
  const server = await serveHttp('query', app, settings.queryPort, { log: log.child({ keyspace: settings.keyspace }), metrics }, 'query API listening');
  return {
    name: 'query',
    async stop() {
      // Open live streams would keep the server from closing.
      await live.close();
      await server.close();
      await checkpoints.close();
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
    const runtime = new ProcessManagerRuntime({ kafka, codec, logger, definition });
    await runtime.start();
    runningProcessManagers.add(runtime);
    return {
      name,
      groups: () => [{ group: runtime.groupId, topics: [...definition.inputs] }],
      async stop() {
        runningProcessManagers.delete(runtime);
        await runtime.stop();
      },
      stats: () => runtime.stats(),
    };
  };
  switch (name) {
    case 'order-fulfilment':
      return start(orderFulfilmentProcess({ facts: new KafkaPlacementFacts(kafka, codec, logger.child({ component: 'placement-facts' })), config: settings.fulfilment }));
    case 'loyalty':
      return start(loyaltyProcess());
    case 'payment-simulator':
      return start(paymentSimulatorProcess({ seed: settings.simulatorSeed, config: settings.simulator }));
  }
}
