/**
 * npm run dlq -- list|show|redrive|skip [options]   (usage: cli-args.ts)
 *
 * Looks at and repairs a read model's parked aggregates
 * (docs/read-side.md#redrive-and-skip) and a process manager's parked
 * processes (docs/operations.md "Parked processes"). Prints JSON on stdout. Redrive and
 * skip are recorded on restaurant.dead-letter-actions with --actor (default:
 * the operating-system user) and --why.
 * Exit codes: 0 done, 1 failure (a redrive still failing included), 2 bad input.
 * Reads the same environment as the roles (KAFKA_*, REGISTRY_*, REDIS_*, READ_MODEL_KEYSPACE).
 */
import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import Redis from 'ioredis';
import { config } from '../../../infra/config';
import { createKafka } from '../../../infra/kafka/client';
import { AvroCodec } from '../../../infra/kafka/codec';
import { rootLogger } from '../../../infra/logging';
import { ActionInputError, redrive, skip } from './actions';
import { parseDlqArgs, type DlqCommand, type DlqModel } from './cli-args';
import { listDeadLetters, parkedStore, showDeadLetter } from './queries';
import { isReadModel } from '../runtime/read-models';
import type { ReadModelName } from '../shared/keys';
import { commandParkings, PROCESS_MANAGERS } from '../../../schemas/topics';
import { listProcesses, parkingTargetOf, redriveProcesses, showProcess, skipProcessInput, type ParkedRuntimeName } from '../../process-managers/redrive/redrive';

const osUser = (): string => {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
};

const readModels = (models: readonly DlqModel[]): ReadModelName[] => models.filter(isReadModel);
/** The models parked on topics of their own: the process managers and the command processor's aggregate types. */
const processManagers = (models: readonly DlqModel[]): ParkedRuntimeName[] => [...PROCESS_MANAGERS, ...commandParkings()].filter((pm) => models.includes(pm));

async function run(cmd: DlqCommand, redis: Redis, codec: AvroCodec): Promise<{ output: unknown; ok: boolean }> {
  const choice = { redis, base: cmd.base, keyspace: cmd.keyspace };
  const kafka = createKafka(`dlq.${randomUUID().slice(0, 8)}`, rootLogger.child({ tool: 'dlq' }));
  switch (cmd.command) {
    case 'list': {
      const output: unknown[] = await listDeadLetters(choice, { models: readModels(cmd.models), reason: cmd.reason });
      // A process manager's parked processes, from its parked topic (docs/operations.md "Parked processes").
      for (const pm of processManagers(cmd.models)) output.push(...(await listProcesses({ kafka, codec }, parkingTargetOf(pm), { reason: cmd.reason })));
      return { output, ok: true };
    }
    case 'show': {
      const shown = isReadModel(cmd.model) ? await showDeadLetter(choice, codec, cmd.model, cmd.aggregateId) : await showProcess({ kafka, codec }, parkingTargetOf(cmd.model), cmd.aggregateId);
      if (shown === undefined) return { output: { error: `${cmd.aggregateId} is not parked in ${cmd.model}` }, ok: false };
      return { output: shown, ok: true };
    }
    case 'redrive':
    case 'skip': {
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      // Connected before acting, so an action is not taken that cannot be recorded.
      await producer.connect();
      try {
        if (!isReadModel(cmd.model)) {
          // Decided by the process manager's runtime, which records the action; this waits for it.
          const pm = { kafka, codec, producer, actor: cmd.actor, why: cmd.why };
          if (cmd.command === 'skip') {
            if (cmd.why.trim() === '') throw new ActionInputError('a skip needs a reason (--why)');
            const outcome = await skipProcessInput(pm, parkingTargetOf(cmd.model), cmd.aggregateId, cmd.event);
            return { output: outcome, ok: outcome.outcome === 'skipped' };
          }
          const outcomes = await redriveProcesses(pm, parkingTargetOf(cmd.model), cmd.selection);
          return { output: outcomes, ok: outcomes.every((o) => o.outcome !== 'failed') };
        }
        const ctx = { store: await parkedStore(choice, cmd.model), codec, producer, actor: cmd.actor, why: cmd.why };
        if (cmd.command === 'skip') {
          const outcome = await skip(ctx, cmd.aggregateId, cmd.event);
          return { output: outcome, ok: outcome.outcome === 'skipped' };
        }
        const outcomes = await redrive(ctx, cmd.selection);
        return { output: outcomes, ok: outcomes.every((o) => o.outcome !== 'failed') };
      } finally {
        await producer.disconnect();
      }
    }
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const cmd = parseDlqArgs(argv, process.env, osUser());
  rootLogger.level = process.env.LOG_LEVEL ?? 'warn';
  const redis = new Redis(config().redis.url, { connectionName: 'dlq', maxRetriesPerRequest: 3 });
  try {
    const codec = new AvroCodec(new SchemaRegistry({ host: config().registry.url }));
    const { output, ok } = await run(cmd, redis, codec);
    console.log(JSON.stringify(output, null, 2));
    return ok ? 0 : 1;
  } finally {
    redis.disconnect();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ActionInputError) {
      console.error(`dlq: ${error.message}`);
      process.exit(2);
    }
    console.error('dlq: failed', error);
    process.exit(1);
  },
);
