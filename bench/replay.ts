// The projection-replay machinery the benches share (bench:projections,
// bench:privacy): write generated events into a bench topic as the command
// processor writes them (keys, partitions, headers, the real topics' schema
// ids), and replay one read model from offset 0 through a real Projector into
// Redis until its checkpoint reaches the topic's end.
import type { Admin, Kafka, Producer } from 'kafkajs';
import type Redis from 'ioredis';
import type { AvroCodec } from '../infra/kafka/codec';
import type { Logger } from '../infra/logging';
import { Projector } from '../consumers/projections/runtime/projector';
import { parseCheckpoint } from '../consumers/projections/runtime/redis-batch';
import { checkpointKey, type ReadModelName } from '../consumers/projections/shared/keys';
import { eventKey, partitionFor } from '../schemas/partitioning';
import { topicName } from '../schemas/topics';
import type { Generated } from './generate';

export type EventKind = 'menu' | 'customer' | 'order';

const NAMESPACES: Record<EventKind, string> = { menu: 'restaurant.menu', customer: 'restaurant.customer', order: 'restaurant.order' };

/** Writes `events` to `topic` (partitioned like the events topics, in chunks of 10,000); returns how many. */
export async function produceEvents(
  producer: Producer,
  codec: AvroCodec,
  kind: EventKind,
  topic: string,
  partitions: number,
  events: Iterable<Generated>,
  /** More headers per event (bench:tracing: the trace context the command processor would have written). */
  extraHeaders: (e: Generated) => Record<string, string> = () => ({}),
): Promise<number> {
  const ids = new Map<string, number>();
  let chunk: { key: string; value: Buffer; partition: number; headers: Record<string, string> }[] = [];
  let count = 0;
  const flush = async (): Promise<void> => {
    if (chunk.length > 0) await producer.send({ topic, acks: 1, messages: chunk });
    chunk = [];
  };
  for (const e of events) {
    const fullName = `${NAMESPACES[kind]}.${e.type}`;
    let id = ids.get(fullName);
    if (id === undefined) {
      id = await codec.schemaId(topicName(kind, 'events'), fullName);
      ids.set(fullName, id);
    }
    chunk.push({
      key: eventKey(e.metadata.aggregateId, e.metadata.version),
      value: codec.encodeWithId(id, fullName, { ...e.data, metadata: e.metadata }),
      partition: partitionFor(e.metadata.aggregateId, partitions),
      headers: { 'event-type': e.type, ...extraHeaders(e) },
    });
    count += 1;
    if (chunk.length >= 10_000) await flush();
  }
  await flush();
  return count;
}

/** Each partition's end offset (high watermark). */
export async function endOffsets(admin: Admin, topic: string): Promise<Map<number, number>> {
  return new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]));
}

export interface ReplayOptions {
  readonly kafka: Kafka;
  readonly codec: AvroCodec;
  readonly redis: Redis;
  readonly logger: Logger;
  readonly model: ReadModelName;
  readonly keyspace: string;
  readonly topic: string;
  readonly groupId: string;
}

export interface Replayed {
  readonly seconds: number;
  readonly peakRss: number;
  readonly applied: number;
}

/** Replays `model` from offset 0 of `topic` into `keyspace` until its checkpoint reaches `end`. */
export async function replayToEnd(options: ReplayOptions, end: ReadonlyMap<number, number>): Promise<Replayed> {
  const { kafka, codec, redis, logger, model, keyspace, topic, groupId } = options;
  const projector = new Projector({ kafka, codec, redis, logger, model, keyspace, topics: [topic], groupId });
  const started = process.hrtime.bigint();
  await projector.start();
  let peakRss = process.memoryUsage().rss;
  let seconds: number;
  try {
    for (;;) {
      const cp = parseCheckpoint(await redis.hgetall(checkpointKey(keyspace, model))).get(topic) ?? new Map<number, number>();
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      // A batch's checkpoint is the offset after its last message (high watermark with plain producers).
      if ([...end].every(([p, high]) => (cp.get(p) ?? 0) >= high)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    seconds = Number(process.hrtime.bigint() - started) / 1e9;
  } finally {
    await projector.stop();
  }
  // Read once stopped: the last batch's count lands just after its checkpoint.
  return { seconds, peakRss, applied: projector.sink.stats.applied };
}

/** Deletes every key of a bench keyspace. */
export async function dropKeyspace(redis: Redis, keyspace: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `rm:{${keyspace}}:*`, 'COUNT', 5000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}
