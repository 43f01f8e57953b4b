/**
 * npm start: every role in one process (ROLE=all, the default), or one role per
 * process in production: ROLE=gateway | command-processor | projector:<model> |
 * projectors (all five read models) | query (the query API, QUERY_PORT) |
 * process-manager:order-fulfilment | loyalty | process-managers (both) |
 * payment-simulator (the stand-in for the external payment provider) | web (the
 * browser UI, WEB_PORT, docs/web-ui.md).
 *
 * Every process opens the operations port (HEALTH_PORT, default 9464):
 * /metrics for Prometheus, /healthz, and /readyz (200 once every role has
 * started). The process's metrics registry is shared by its roles.
 *
 * Start-up verifies the topic catalog against the broker (creating what is
 * missing, refusing to run on drift). SIGTERM/SIGINT stop taking work, finish or
 * abort the transaction in flight, disconnect and exit; a hard timeout ends a
 * shutdown that hangs.
 */
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { config } from '../config';
import { createKafka } from '../kafka/client';
import { AvroCodec } from '../kafka/codec';
import { allTopicSpecs, applyTopics, registerSubjects, TopicDriftError } from '../kafka/topics';
import { logFormat, rootLogger } from '../logging';
import { LagMonitor } from '../metrics/lag-monitor';
import { Metrics } from '../metrics/registry';
import { bannerUrls, startBanner } from './banner';
import { metricsGuard } from '../auth/metrics-guard';
import { serveOps } from './http';
import { processManagersOf, projectorsOf, roleConfig, type Role } from './roles';
import { startWeb } from '../../web/server/role';
import { startCommandProcessor, startGateway, startProcessManager, startProjector, startQueryApi, type Running } from './start';

async function main(): Promise<void> {
  const settings = roleConfig();
  const logger = rootLogger.child({ role: settings.role, instance: settings.instanceId });
  const kafka = createKafka(`${settings.role}.${settings.instanceId}`, logger);
  const codec = new AvroCodec(new SchemaRegistry({ host: config().registry.url }));
  const metrics = new Metrics();
  const running: Running[] = [];
  let ready = false;
  const guard = await metricsGuard(config().auth);
  const ops = await serveOps(settings.healthPort, { metrics, ready: () => ready, log: logger, ...(guard === undefined ? {} : { guard }) });
  const lag = new LagMonitor({ kafka, metrics, logger: logger.child({ component: 'lag-monitor' }), groups: () => running.flatMap((r) => r.groups?.() ?? []) });

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

  const deps = { kafka, codec, logger, settings, metrics };
  const wants = (role: Role): boolean => settings.role === 'all' || settings.role === role || (settings.role === 'commands' && (role === 'gateway' || role === 'command-processor'));
  if (wants('command-processor')) running.push(await startCommandProcessor(deps));
  if (wants('gateway')) running.push(await startGateway(deps));
  for (const model of projectorsOf(settings.role)) running.push(await startProjector(model, deps));
  if (wants('query')) running.push(await startQueryApi(deps));
  for (const name of processManagersOf(settings.role)) running.push(await startProcessManager(name, deps));
  if (wants('web')) running.push(await startWeb(deps));
  ready = true;
  const banner = { roles: running.map((r) => r.name), gatewayPort: settings.port, queryPort: settings.queryPort, webPort: settings.web.port, opsPort: ops.port, stack: config() };
  // At a terminal, say it so a person sees it: where to look, what next, how to stop; to machines, one log line.
  if (logFormat() === 'pretty') process.stdout.write(`${startBanner(banner).join('\n')}\n`);
  else logger.info({ roles: banner.roles, port: settings.port, queryPort: settings.queryPort, webPort: settings.web.port, opsPort: ops.port, urls: bannerUrls(banner) }, 'restaurant is running');

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
    ready = false;
    void (async () => {
      let failed = false;
      for (const role of [...running].reverse()) {
        try {
          await role.stop();
        } catch (error) {
          failed = true;
          logger.error({ err: error, role: role.name }, 'role did not stop cleanly');
        }
      }
      try {
        await lag.stop();
        await ops.close();
      } catch (error) {
        failed = true;
        logger.error({ err: error }, 'the operations endpoints did not stop cleanly');
      }
      if (!failed) logger.info('stopped');
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
