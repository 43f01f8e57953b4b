// Read-side test support: produce events straight to a topic in the wire
// format the command processor uses, dump a Redis keyspace in the memory
// store's format, and wait for a projector's checkpoint.
import type Redis from 'ioredis';
import type { Kafka, Producer } from 'kafkajs';
import type { AvroCodec } from '../../infra/kafka/codec';
import { MemoryStore, type StoreDump } from '../../consumers/projections/shared/memory-store';
import { foldInto, type Envelope } from '../../consumers/projections/shared/projection';
import { parseCheckpoint } from '../../consumers/projections/runtime/redis-batch';
import { READ_MODEL_SPECS } from '../../consumers/projections/runtime/read-models';
import { checkpointKey, READ_MODELS, readModelPrefix, rebuildKey, type ReadModelName } from '../../consumers/projections/shared/keys';
import { eventKey, partitionFor } from '../../schemas/partitioning';
import { readEvents, type StoredEvent } from './events';
import { waitFor } from '../../infra/wait-for';
import { redisDump } from '../../app/chaos/read-models';

export { redisDump };

/**
 * Produces events to `topic` as the processor does (key <id>/<version>, the
 * aggregate's partition, an `event-type` header), encoded with the schema ids
 * registered for `schemaTopic` (the real events topic), so no new subjects.
 */
export async function produceEnvelopes(
  /** A producer, or a transaction of one. */
  producer: Pick<Producer, 'send'>,
  codec: AvroCodec,
  opts: { readonly topic: string; readonly schemaTopic: string; readonly namespace: string; readonly partitions: number; readonly headers?: Readonly<Record<string, string>> },
  envelopes: readonly Envelope<{ readonly type: string; readonly data: object }>[],
): Promise<void> {
  const messages = await Promise.all(
    envelopes.map(async ({ event, metadata }) => {
      const fullName = `${opts.namespace}.${event.type}`;
      const id = await codec.schemaId(opts.schemaTopic, fullName);
      return {
        key: eventKey(metadata.aggregateId, metadata.version),
        value: codec.encodeWithId(id, fullName, { ...event.data, metadata }),
        partition: partitionFor(metadata.aggregateId, opts.partitions),
        headers: { ...opts.headers, 'event-type': event.type },
      };
    }),
  );
  for (let i = 0; i < messages.length; i += 2000) await producer.send({ topic: opts.topic, acks: -1, messages: messages.slice(i, i + 2000) });
}

/** Deletes every key matching `pattern` (SCAN + UNLINK). */
export async function dropKeys(redis: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let dropped = 0;
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (batch.length > 0) dropped += await redis.unlink(...batch);
  } while (cursor !== '0');
  return dropped;
}

/** Resolves once the model's checkpoint is past every given `topic` -> partition -> last offset, and no partition is still rebuilding. */
export async function waitForCheckpoint(
  redis: Redis,
  keyspace: string,
  model: ReadModelName,
  lastOffsets: ReadonlyMap<string, ReadonlyMap<number, number>>,
  timeoutMs = 60_000,
): Promise<void> {
  let behind: string[] = [];
  try {
    await waitFor(
      `${model} (${keyspace}) to pass its last offsets`,
      async () => {
        const cp = parseCheckpoint(await redis.hgetall(checkpointKey(keyspace, model)));
        behind = [...lastOffsets].flatMap(([topic, parts]) => [...parts].filter(([p, o]) => (cp.get(topic)?.get(p) ?? 0) <= o).map(([p, o]) => `${topic}/${p}@${o}`));
        behind.push(...Object.keys(await redis.hgetall(rebuildKey(keyspace, model))).map((field) => `${field} rebuilding`));
        return behind.length === 0 ? true : undefined;
      },
      timeoutMs,
      100,
    );
  } catch (error) {
    throw new Error(`${model} (${keyspace}) did not reach ${behind.join(', ')} within ${timeoutMs} ms`, { cause: error });
  }
}

/** Last offset of every partition with events, per topic. */
export type TopicEnds = Map<string, Map<number, number>>;

/**
 * The independent verifier: every events topic the models read, from the
 * start, folded by the pure projections into an in-memory store, dumped as the
 * models would be in `keyspace`. Also returns where each topic ended.
 */
export async function expectedReadModels(
  kafka: Kafka,
  keyspace: string,
  models: readonly ReadModelName[] = READ_MODELS,
): Promise<{ expected: Partial<Record<ReadModelName, StoreDump>>; ends: TopicEnds }> {
  const byTopic = new Map<string, StoredEvent[]>();
  for (const topic of new Set(models.flatMap((m) => READ_MODEL_SPECS[m].topics))) byTopic.set(topic, await readEvents(kafka, topic));
  const ends: TopicEnds = new Map();
  for (const [topic, events] of byTopic) {
    const parts = new Map<number, number>();
    for (const e of events) parts.set(e.partition, Math.max(parts.get(e.partition) ?? -1, e.offset));
    ends.set(topic, parts);
  }
  const expected: Partial<Record<ReadModelName, StoreDump>> = {};
  for (const model of models) {
    const store = new MemoryStore();
    for (const topic of READ_MODEL_SPECS[model].topics) {
      // Per partition in offset order, as the projector sees them.
      const events = [...(byTopic.get(topic) ?? [])].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
      foldInto(store, READ_MODEL_SPECS[model].projection, keyspace, events.map((e) => ({ event: { type: e.type, data: e.data }, metadata: e.metadata })));
    }
    expected[model] = store.dump(readModelPrefix(keyspace, model));
  }
  return { expected, ends };
}

/** A read model as Redis holds it, without the runtime's checkpoint (offsets are not part of the model). */
export async function actualReadModel(redis: Redis, keyspace: string, model: ReadModelName): Promise<StoreDump> {
  const dump = await redisDump(redis, readModelPrefix(keyspace, model));
  delete dump[checkpointKey(keyspace, model)];
  return dump;
}

/** Waits until each model has passed the ends of the topics it reads and is rebuilding nothing. */
export async function waitForReadModels(redis: Redis, keyspace: string, ends: TopicEnds, models: readonly ReadModelName[] = READ_MODELS, timeoutMs = 120_000): Promise<void> {
  for (const model of models) {
    const relevant = new Map([...ends].filter(([topic]) => READ_MODEL_SPECS[model].topics.includes(topic)));
    await waitForCheckpoint(redis, keyspace, model, relevant, timeoutMs);
  }
}

/** The batch script's flat ARGV read back as the Lua script reads it (redis-batch.ts), for tests of the encoding. */
export function parseBatchArgv(argv: readonly string[]): {
  t: Array<[number, string]>;
  c: string[][];
  e: Array<[number, string, Array<[string, number, ...string[]]>]>;
} {
  let i = 0;
  const next = (): string => argv[i++] as string;
  const t: Array<[number, string]> = [];
  for (let n = Number(next()); n > 0; n -= 1) t.push([Number(next()), next()]);
  const c: string[][] = [];
  for (let n = Number(next()); n > 0; n -= 1) c.push([next(), next(), next(), next()]);
  const e: Array<[number, string, Array<[string, number, ...string[]]>]> = [];
  while (i < argv.length) {
    const v = Number(next());
    const version = next();
    const ops: Array<[string, number, ...string[]]> = [];
    for (let n = Number(next()); n > 0; n -= 1) {
      const args = Number(next());
      const cmd = next();
      const key = Number(next());
      ops.push([cmd, key, ...Array.from({ length: args }, next)]);
    }
    e.push([v, version, ops]);
  }
  return { t, c, e };
}
