/**
 * npm run replay -- <consumer-group> --to earliest|<ISO time>|<offset> [options]
 * npm run replay -- <consumer-group> --blue-green [options]
 *
 * Rebuilds a read model by replaying its consumer group (replay.ts, and
 * docs/operations.md for the semantics). Options:
 *   --to earliest          rebuild from scratch (the model is cleared first)
 *   --to <ISO time>        deliver again every event from that time (a repair)
 *   --to <offset>          deliver again from that offset on every partition
 *   --blue-green           build a new keyspace beside the serving one, then switch
 *   --keep-old             blue/green: keep the old keyspace and group
 *   --handover-timeout <s> blue/green: wait this long for a projector role to join (30)
 *   --metrics-port <port>  serve /metrics here while running (9470; 0: none)
 * Exit codes: 0 caught up, 1 failure, 2 bad input, 3 the group is running.
 * Reads the same environment as the roles (KAFKA_*, REDIS_*); the deployment's
 * base keyspace is READ_MODEL_KEYSPACE when set, else the group's own (without a
 * blue/green `-g<n>` suffix).
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import Redis from 'ioredis';
import { serveOps, type ServedHttp } from '../../../infra/http/servers';
import { metricsGuard } from '../../../infra/auth/metrics-guard';
import { config } from '../../../infra/config';
import { createKafka } from '../../../infra/kafka/client';
import { AvroCodec } from '../../../infra/kafka/codec';
import { rootLogger } from '../../../infra/logging';
import { Metrics } from '../../../infra/metrics/registry';
import { assertKeyspace } from '../shared/keys';
import { parseTarget, Replay, ReplayError } from './replay';

const USAGE = 'usage: npm run replay -- <consumer-group> --to earliest|<ISO time>|<offset> [--blue-green] [--keep-old] [--handover-timeout <s>] [--metrics-port <port>]';

function wholeNumber(name: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value > max) throw new ReplayError(`--${name} ${JSON.stringify(raw)} is not a whole number from 0 to ${max}`, 2);
  return value;
}

async function main(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        to: { type: 'string' },
        'blue-green': { type: 'boolean', default: false },
        'keep-old': { type: 'boolean', default: false },
        'handover-timeout': { type: 'string' },
        'metrics-port': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (cause) {
    throw new ReplayError(`${(cause as Error).message}\n${USAGE}`, 2, { cause });
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new ReplayError(`name exactly one consumer group\n${USAGE}`, 2);
  const group = positionals[0] as string;
  const blueGreen = values['blue-green'] === true;
  const to = parseTarget(values.to ?? (blueGreen ? 'earliest' : undefined), Date.now());
  const handoverTimeoutMs = wholeNumber('handover-timeout', values['handover-timeout'], 30, 3600) * 1000;
  const metricsPort = wholeNumber('metrics-port', values['metrics-port'], 9470, 65535);
  // The deployment's base keyspace: READ_MODEL_KEYSPACE when set, else the one the group's keyspace belongs to.
  let base: string | undefined;
  try {
    base = process.env.READ_MODEL_KEYSPACE === undefined ? undefined : assertKeyspace(process.env.READ_MODEL_KEYSPACE);
  } catch (cause) {
    throw new ReplayError(`READ_MODEL_KEYSPACE: ${(cause as Error).message}`, 2, { cause });
  }

  const logger = rootLogger.child({ tool: 'replay' });
  logger.level = process.env.LOG_LEVEL ?? 'warn';
  const clientId = `replay.${randomUUID().slice(0, 8)}`;
  const kafka = createKafka(clientId, logger);
  const redis = new Redis(config().redis.url, { connectionName: 'replay', maxRetriesPerRequest: 3 });
  const metrics = new Metrics();
  let ops: ServedHttp | undefined;
  try {
    if (metricsPort > 0) {
      try {
        const guard = await metricsGuard(config().auth);
        ops = await serveOps(metricsPort, { metrics, readiness: () => ({ ready: true, reasons: [] }), log: logger, ...(guard === undefined ? {} : { guard }) });
      } catch (cause) {
        throw new ReplayError(`cannot serve /metrics on port ${metricsPort} (${(cause as Error).message}); pass --metrics-port <a free port>, or 0 for none`, 1, { cause });
      }
    }
    const replay = new Replay({
      kafka,
      clientId: `${config().kafka.clientId}.${clientId}`,
      codec: new AvroCodec(new SchemaRegistry({ host: config().registry.url })),
      redis,
      logger,
      metrics,
      ...(base === undefined ? {} : { base }),
      say: (line) => console.log(line),
      progress: { isTTY: process.stderr.isTTY === true, write: (text) => process.stderr.write(text) },
    });
    let interrupted = false;
    const interrupt = (signal: string): void => {
      if (interrupted) return;
      interrupted = true;
      console.error(`\n${signal}: stopping; the group keeps the offsets reached so far (a read model rebuilt from earliest stays marked rebuilding until its projector finishes)`);
      const hard = setTimeout(() => process.exit(130), 15_000);
      hard.unref();
      void replay.abort().finally(() => process.exit(130));
    };
    process.on('SIGINT', () => interrupt('SIGINT'));
    process.on('SIGTERM', () => interrupt('SIGTERM'));
    await replay.run({ group, to, blueGreen, keepOld: values['keep-old'] === true, handoverTimeoutMs });
    return 0;
  } finally {
    await ops?.close();
    redis.disconnect();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ReplayError) {
      console.error(`replay: ${error.message}`);
      process.exit(error.exitCode);
    }
    console.error('replay: failed', error);
    process.exit(1);
  },
);
