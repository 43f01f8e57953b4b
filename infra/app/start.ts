// Starting and stopping each role: the wiring of adapters to the pure core.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { Kafka } from 'kafkajs';
import type { AvroCodec } from '../kafka/codec';
import type { Logger } from '../logging';
import { KafkaCommandBus } from '../../producers/command-bus/kafka-command-bus';
import { KafkaMenuCatalog } from '../../producers/command-bus/menu-catalog';
import { CommandProcessor } from '../../producers/command-processor/processor';
import { createGatewayApp } from '../../producers/gateway/app';
import Redis from 'ioredis';
import { config } from '../config';
import { Projector } from '../../consumers/projections/runtime/projector';
import type { ReadModelName } from '../../consumers/projections/shared/keys';
import { createQueryApp } from '../../consumers/query-api/app';
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
  stop(): Promise<void>;
  /** A process manager's stats snapshot (instances by state, deadlines, failures, messages emitted). */
  readonly stats?: () => ProcessManagerStats;
}

export interface RoleDeps {
  readonly kafka: Kafka;
  readonly codec: AvroCodec;
  readonly logger: Logger;
  readonly settings: RoleConfig;
}

export async function startCommandProcessor({ kafka, codec, logger, settings }: RoleDeps): Promise<Running> {
  const processor = new CommandProcessor({
    kafka,
    codec,
    logger: logger.child({ component: 'command-processor' }),
    context: { order: { maxOrderTotalMinor: settings.maxOrderTotalMinor } },
  });
  await processor.start();
  return { name: 'command-processor', stop: () => processor.stop() };
}

export async function startGateway({ kafka, codec, logger, settings }: RoleDeps): Promise<Running> {
  const log = logger.child({ component: 'gateway' });
  const bus = new KafkaCommandBus({ kafka, codec, logger: log });
  const menu = new KafkaMenuCatalog(kafka, codec, log);
  await Promise.all([bus.start(), menu.start()]);
  const app = createGatewayApp({ bus, menu, clock: Date.now, newId: randomUUID, replyWaitMs: settings.commandWaitMs, logger: log });
  // Ready when listening: the bus and the menu view are connected and caught up before this.
  const server = await serveHttp(app, settings.port, log, 'gateway listening');
  return {
    name: 'gateway',
    async stop() {
      await server.close();
      await Promise.all([bus.stop(), menu.stop()]);
    },
  };
}

/** An HTTP server for a role's app, answering /healthz and /readyz itself; close() stops taking connections. */
async function serveHttp(
  app: (req: http.IncomingMessage, res: http.ServerResponse) => void,
  port: number,
  log: Logger,
  message: string,
): Promise<{ close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/healthz' || req.url === '/readyz')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    app(req, res);
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address();
  log.info({ port: typeof address === 'object' && address ? address.port : port }, message);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

function redisClient(name: string): Redis {
  return new Redis(config().redis.url, { connectionName: name, maxRetriesPerRequest: 3, enableOfflineQueue: true });
}

/** One read model's projector: its own consumer group and Redis connection. */
export async function startProjector(model: ReadModelName, { kafka, codec, logger, settings }: RoleDeps): Promise<Running> {
  const redis = redisClient(`projector:${model}`);
  const projector = new Projector({
    kafka,
    codec,
    redis,
    logger,
    model,
    keyspace: settings.keyspace,
    retry: { attempts: settings.projectorAttempts, initialDelayMs: settings.projectorBackoffMs, maxDelayMs: 5_000 },
  });
  await projector.start();
  return {
    name: `projector:${model}`,
    async stop() {
      await projector.stop();
      await redis.quit();
    },
  };
}

export async function startQueryApi({ logger, settings }: RoleDeps): Promise<Running> {
  const log = logger.child({ component: 'query-api' });
  const redis = redisClient('query-api');
  await redis.ping();
  const app = createQueryApp({ redis, keyspace: settings.keyspace, consistencyWaitMs: settings.consistencyWaitMs, clock: Date.now, logger: log });
  const server = await serveHttp(app, settings.queryPort, log.child({ keyspace: settings.keyspace }), 'query API listening');
  return {
    name: 'query',
    async stop() {
      await server.close();
      await redis.quit();
    },
  };
}

/** A stateful consumer on the process-manager runtime: order fulfilment, the loyalty policy or the payment simulator. */
export async function startProcessManager(name: ProcessManagerName, { kafka, codec, logger, settings }: RoleDeps): Promise<Running> {
  const start = async <S, I>(definition: ProcessDefinition<S, I>): Promise<Running> => {
    const runtime = new ProcessManagerRuntime({ kafka, codec, logger, definition });
    await runtime.start();
    return { name, stop: () => runtime.stop(), stats: () => runtime.stats() };
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
