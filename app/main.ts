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
 * started and while each can work: docs/recovery.md). The process's metrics
 * registry is shared by its roles.
 *
 * Start-up waits for Kafka, the schema registry and Redis (not ready
 * meanwhile, saying what it waits for), verifies the topic catalog against
 * the broker (creating what is missing, refusing to run on drift). SIGTERM/SIGINT stop taking work, finish or
 * abort the transaction in flight, disconnect and exit; a hard timeout ends a
 * shutdown that hangs.
 */
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { config } from '../infra/config';
import { createKafka } from '../infra/kafka/client';
import { AvroCodec } from '../infra/kafka/codec';
import { allTopicSpecs, applyTopics, registerSubjects, TopicDriftError } from '../infra/kafka/topics';
import { logFormat, rootLogger, type Logger } from '../infra/logging';
import { LagMonitor } from '../infra/metrics/lag-monitor';
import { Metrics } from '../infra/metrics/registry';
import { bannerUrls, startBanner } from './banner';
import { metricsGuard } from '../infra/auth/metrics-guard';
import { serveOps } from '../infra/http/servers';
import { brokenOf, KafkaProbe, readinessOf, type ReadinessCheck, type ReadinessState } from '../infra/http/readiness';
import { isTransient } from './transient';
import { processManagersOf, projectorsOf, roleConfig, type Role } from './roles';
import { startWeb } from '../web/server/role';
import { startTracing } from '../infra/tracing/sdk';
import { startAdminApi } from './start-admin';
import { startCommandProcessor } from './start-command-processor';
import { startGateway, startProcessManager, startProjector, startQueryApi, type Running } from './start';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Start-up was interrupted by SIGTERM/SIGINT while it waited. */
class StartInterrupted extends Error {}

/**
 * Runs `attempt` until it succeeds. A transient failure (Kafka, the registry or
 * Redis not there yet: transient.ts) is waited out, saying so, with a backoff
 * of at most a second, so the role comes up within about a second of what it
 * waits for; any other failure ends start-up.
 */
async function untilUp<T>(what: string, attempt: () => Promise<T>, log: Logger, stopping: () => boolean): Promise<T> {
  let delay = 250;
  let since: number | undefined;
  let told = 0;
  for (;;) {
    if (stopping()) throw new StartInterrupted(`stopped while waiting for ${what}`);
    try {
      const result = await attempt();
      if (since !== undefined) log.info({ waitedMs: Date.now() - since }, `${what} is up`);
      return result;
    } catch (error) {
      if (!isTransient(error)) throw error;
      since ??= Date.now();
      // Said at once, then every 10 s, so a person sees what the role waits for.
      if (Date.now() - told >= 10_000) {
        log.warn({ err: error, waitingMs: Date.now() - since }, `waiting for ${what}: not ready until then`);
        told = Date.now();
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 1000);
    }
  }
}

async function main(): Promise<void> {
  const settings = roleConfig();
  const logger = rootLogger.child({ role: settings.role, instance: settings.instanceId });
  // Before any role: their spans go to the trace backend from the first request on (docs/tracing.md).
  const tracing = startTracing(config().tracing, `restaurant-${settings.role.replace(':', '-')}`);
  if (tracing !== undefined) logger.info({ tracing: config().tracing.mode, sampleRatio: config().tracing.sampleRatio }, 'tracing on');
  const kafka = createKafka(`${settings.role}.${settings.instanceId}`, logger);
  const codec = new AvroCodec(new SchemaRegistry({ host: config().registry.url }));
  const metrics = new Metrics();
  const running: Running[] = [];
  let started = false;
  let stopping = false;
  // The probe's own client: no retries, and quiet (the probe says when Kafka goes and comes back).
  const probeKafka = createKafka(`${settings.role}.${settings.instanceId}.probe`, logger.child({}, { level: 'silent' }), { retry: { retries: 0 } });
  const probe = new KafkaProbe(probeKafka, logger.child({ component: 'readiness' }));
  // The query API reads Redis only: Kafka being away does not stop it answering.
  const checks = (): ReadinessCheck[] => [...(settings.role === 'query' ? [] : [probe]), ...running.flatMap((r) => r.readiness ?? [])];
  const readiness = (): ReadinessState => readinessOf(started, stopping, checks());
  const guard = await metricsGuard(config().auth);
  const broken = (): string[] => brokenOf(running.flatMap((r) => r.readiness ?? []));
  const ops = await serveOps(settings.healthPort, { metrics, readiness, broken, log: logger, ...(guard === undefined ? {} : { guard }) });
  const lag = new LagMonitor({ kafka, metrics, logger: logger.child({ component: 'lag-monitor' }), groups: () => running.flatMap((r) => r.groups?.() ?? []) });

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
      for (const role of [...running].reverse()) {
        try {
          await role.stop();
        } catch (error) {
          failed = true;
          logger.error({ err: error, role: role.name }, 'role did not stop cleanly');
        }
      }
      try {
        // What is buffered goes to the trace backend before the process ends; a backend that is away costs at most a few seconds.
        await tracing?.shutdown().catch((error: unknown) => logger.warn({ err: error }, 'spans not exported at shutdown'));
        await probe.stop();
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

  const isStopping = (): boolean => stopping;
  const specs = allTopicSpecs();
  await untilUp(
    'Kafka',
    async () => {
      if (!(await probe.check())) throw Object.assign(new Error(probe.notReady() ?? 'Kafka does not answer'), { retriable: true });
    },
    logger,
    isStopping,
  );
  probe.start();
  await untilUp(
    'Kafka (topics)',
    async () => {
      const admin = kafka.admin();
      await admin.connect();
      try {
        const result = await applyTopics(admin, specs);
        if (result.drift.length > 0) throw new TopicDriftError(result.drift);
        if (result.created.length > 0) logger.info({ created: result.created }, 'created missing topics');
      } finally {
        await admin.disconnect();
      }
    },
    logger,
    isStopping,
  );
  // Schemas are registered before any traffic, not by the first command that needs one.
  await untilUp('the schema registry', () => registerSubjects(codec, specs), logger, isStopping);

  const deps = { kafka, codec, logger, settings, metrics, readiness, kafkaAnswers: () => !probe.unreachable() };
  const wants = (role: Role): boolean => settings.role === 'all' || settings.role === role || (settings.role === 'commands' && (role === 'gateway' || role === 'command-processor'));
  const startRoles = async (): Promise<void> => {
    try {
      if (wants('command-processor')) running.push(await startCommandProcessor(deps));
      if (wants('gateway')) running.push(await startGateway(deps));
      for (const model of projectorsOf(settings.role)) running.push(await startProjector(model, deps));
      if (wants('query')) running.push(await startQueryApi(deps));
      for (const name of processManagersOf(settings.role)) running.push(await startProcessManager(name, deps));
      if (wants('web')) running.push(await startWeb(deps));
      // Not part of `all`: the admin API runs as its own process with its own principals (docs/least-privilege.md).
      if (settings.role === 'admin-api') running.push(await startAdminApi(deps));
    } catch (error) {
      // Start again from nothing once what failed is back: no half-started role left behind.
      for (const role of running.splice(0).reverse()) await role.stop().catch((e: unknown) => logger.debug({ err: e, role: role.name }, 'could not stop a half-started role'));
      throw error;
    }
  };
  await untilUp('Kafka, the registry and Redis (starting the roles)', startRoles, logger, isStopping);
  if (stopping) return;
  started = true;
  const banner = { roles: running.map((r) => r.name), gatewayPort: settings.port, queryPort: settings.queryPort, webPort: settings.web.port, opsPort: ops.port, stack: config() };
  // At a terminal, say it so a person sees it: where to look, what next, how to stop; to machines, one log line.
  if (logFormat() === 'pretty') process.stdout.write(`${startBanner(banner).join('\n')}\n`);
  else logger.info({ roles: banner.roles, port: settings.port, queryPort: settings.queryPort, webPort: settings.web.port, opsPort: ops.port, urls: bannerUrls(banner) }, 'restaurant is running');
}

main().catch((error: unknown) => {
  if (error instanceof StartInterrupted) return; // the signal handler stops and exits
  rootLogger.fatal({ err: error }, error instanceof Error ? error.message : 'start-up failed');
  process.exit(1);
});
