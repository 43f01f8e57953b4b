/**
 * npm start: every role in one process (ROLE=all, the default), or one role per
 * process in production: ROLE=gateway | command-processor | projector:<model> |
 * projectors (all five read models) | query (the query API, QUERY_PORT) |
 * process-manager:order-fulfilment | loyalty | process-managers (both) |
 * payment-simulator (the stand-in for the external payment provider).
 *
 * Start-up verifies the topic catalog against the broker (creating what is
 * missing, refusing to run on drift). SIGTERM/SIGINT stop taking work, finish or
 * abort the transaction in flight, disconnect and exit; a hard timeout ends a
 * shutdown that hangs.
 */
import http from 'node:http';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { config } from '../config';
import { createKafka } from '../kafka/client';
import { AvroCodec } from '../kafka/codec';
import { allTopicSpecs, applyTopics, registerSubjects, TopicDriftError } from '../kafka/topics';
import { rootLogger } from '../logging';
import { processManagersOf, projectorsOf, roleConfig, type Role } from './roles';
import { startCommandProcessor, startGateway, startProcessManager, startProjector, startQueryApi, type Running } from './start';

async function main(): Promise<void> {
  const settings = roleConfig();
  const logger = rootLogger.child({ role: settings.role, instance: settings.instanceId });
  const kafka = createKafka(`${settings.role}.${settings.instanceId}`, logger);
  const codec = new AvroCodec(new SchemaRegistry({ host: config().registry.url }));

  const specs = allTopicSpecs();
  const admin = kafka.admin();
  await admin.connect();
  try {
    const result = await applyTopics(admin, specs);
    if (result.drift.length > 0) throw new TopicDriftError(result.drift);
    if (result.created.length > 0) logger.info({ created: result.created }, 'created missing topics');
  } finally {
    await admin.disconnect();
  }
  // Schemas are registered before any traffic, not by the first command that needs one.
  await registerSubjects(codec, specs);

  const running: Running[] = [];
  const wants = (role: Role): boolean => settings.role === 'all' || settings.role === role;
  if (wants('command-processor')) running.push(await startCommandProcessor({ kafka, codec, logger, settings }));
  if (wants('gateway')) running.push(await startGateway({ kafka, codec, logger, settings }));
  for (const model of projectorsOf(settings.role)) running.push(await startProjector(model, { kafka, codec, logger, settings }));
  if (wants('query')) running.push(await startQueryApi({ kafka, codec, logger, settings }));
  for (const name of processManagersOf(settings.role)) running.push(await startProcessManager(name, { kafka, codec, logger, settings }));

  // Roles without an HTTP server of their own still answer health checks.
  let healthServer: http.Server | undefined;
  if (!wants('gateway') && !wants('query')) {
    healthServer = http.createServer((req, res) => {
      const ok = req.url === '/healthz' || req.url === '/readyz';
      res.writeHead(ok ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(ok ? { status: 'ok' } : { error: 'not found' }));
    });
    await new Promise<void>((resolve) => healthServer?.listen(settings.healthPort, '127.0.0.1', resolve));
  }
  logger.info({ roles: running.map((r) => r.name), port: settings.port, queryPort: settings.queryPort }, 'restaurant is running');

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const hard = setTimeout(() => {
      logger.error('shutdown took longer than 15 s; exiting');
      process.exit(1);
    }, 15_000);
    hard.unref();
    void (async () => {
      let failed = false;
      healthServer?.close();
      for (const role of [...running].reverse()) {
        try {
          await role.stop();
        } catch (error) {
          failed = true;
          logger.error({ err: error, role: role.name }, 'role did not stop cleanly');
        }
      }
      process.exit(failed ? 1 : 0);
    })();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  rootLogger.fatal({ err: error }, error instanceof Error ? error.message : 'start-up failed');
  process.exit(1);
});
