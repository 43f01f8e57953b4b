// bench:privacy's real replay (docs/privacy.md, "Benchmark"): the customers and
// orders read models replayed from offset 0 through a real Projector, Kafka and
// Redis (bench/replay.ts, as bench:projections replays), once from events with
// plaintext personal fields and once from the same events with those fields
// sealed per customer (app/privacy-migration/migration.ts's field rules, so exactly
// what the gateway seals), alternating, in the same run.
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type Redis from 'ioredis';
import type { AvroCodec } from '../infra/kafka/codec';
import { createTopicsLed } from '../infra/kafka/create-topics';
import type { Logger } from '../infra/logging';
import { newDataKey, type DataKey } from '../infra/privacy/crypto';
import { ownerOf, sealRecord, sealWith } from '../app/privacy-migration/migration';
import type { Actor, EventMetadata } from '../schemas/generated/types';
import type { ReadModelName } from '../consumers/projections/shared/keys';
import { customerEvents, orderEvents, type Generated } from './generate';
import { dropKeyspace, endOffsets, produceEvents, replayToEnd } from './replay';

const PARTITIONS = 6;
const CUSTOMERS = 5000;

export interface ReplayPair {
  readonly model: ReadModelName;
  readonly events: number;
  /** events/s per round, plaintext and sealed. */
  readonly plain: number[];
  readonly sealed: number[];
  /** Events applied per replay (the same for both forms, or the comparison is void). */
  readonly applied: { plain: number[]; sealed: number[] };
  /** Seconds per replay. */
  readonly seconds: { plain: number[]; sealed: number[] };
}

/** The same events with their personal fields sealed with their customer's key. */
function* sealed(kind: 'customer' | 'order', events: Iterable<Generated>, counter: { sealed: number }): Generator<Generated> {
  const keys = new Map<string, DataKey>();
  const owners = new Map<string, string>();
  const keyOf = (customerId: string): DataKey => {
    let key = keys.get(customerId);
    if (key === undefined) keys.set(customerId, (key = newDataKey(customerId)));
    return key;
  };
  for (const e of events) {
    const record = { ...e.data, metadata: e.metadata as EventMetadata & { readonly actor: Actor | null } };
    const owner = ownerOf(kind, record, owners);
    const result = owner === undefined ? undefined : sealRecord(e.type, record, sealWith(keyOf(owner)));
    if (result === undefined) {
      yield e;
      continue;
    }
    const { metadata, ...data } = result;
    counter.sealed += 1;
    yield { type: e.type, data, metadata: metadata as EventMetadata };
  }
}

export async function replaySealedVsPlain(
  deps: { readonly kafka: Kafka; readonly codec: AvroCodec; readonly redis: Redis; readonly logger: Logger },
  { events, rounds }: { readonly events: number; readonly rounds: number },
): Promise<ReplayPair[]> {
  const { kafka, codec, redis, logger } = deps;
  const run = randomUUID().slice(0, 8);
  const admin = kafka.admin();
  const producer = kafka.producer();
  await Promise.all([admin.connect(), producer.connect()]);
  const generate = {
    customer: () => customerEvents(events),
    order: () => orderEvents({ events }, { t0: Date.UTC(2025, 0, 1), orderEveryMs: 60_000, stepEveryMs: 1000, customers: CUSTOMERS, items: 40 }),
  };
  const topics = (['customer', 'order'] as const).flatMap((kind) => (['plain', 'sealed'] as const).map((form) => ({ kind, form, topic: `bench.privacy.${kind}.${form}.${run}` })));
  const groups: string[] = [];
  try {
    await createTopicsLed(admin, topics.map(({ topic }) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 1 })));
    for (const { kind, form, topic } of topics) {
      const started = Date.now();
      const counter = { sealed: 0 };
      await produceEvents(producer, codec, kind, topic, PARTITIONS, form === 'plain' ? generate[kind]() : sealed(kind, generate[kind](), counter));
      if (form === 'sealed' && counter.sealed === 0) throw new Error(`no ${kind} event had personal fields to seal`);
      const what = form === 'plain' ? 'personal fields in plaintext' : `${counter.sealed.toLocaleString('en')} of them with personal fields sealed`;
      console.log(`produced ${events.toLocaleString('en')} ${kind} events, ${what}, in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
    const topicOf = (kind: 'customer' | 'order', form: 'plain' | 'sealed'): string => topics.find((t) => t.kind === kind && t.form === form)?.topic ?? '';
    const pairs: ReplayPair[] = [];
    for (const [model, kind] of [['customers', 'customer'], ['orders', 'order']] as const) {
      // A replay not counted first: the JIT, Redis and the page cache warm for both forms alike.
      const warmup = `bp-${run}-${model}-warm`;
      groups.push(`bench.privacy.${model}.warm.${run}`);
      await replayToEnd({ kafka, codec, redis, logger, model, keyspace: warmup, topic: topicOf(kind, 'plain'), groupId: `bench.privacy.${model}.warm.${run}` }, await endOffsets(admin, topicOf(kind, 'plain')));
      await dropKeyspace(redis, warmup);
      const pair: ReplayPair = { model, events, plain: [], sealed: [], applied: { plain: [], sealed: [] }, seconds: { plain: [], sealed: [] } };
      for (let round = 0; round < rounds; round += 1) {
        // Alternating which goes first (ABBA), so neither always runs in the same position.
        const forms = round % 2 === 0 ? (['plain', 'sealed'] as const) : (['sealed', 'plain'] as const);
        for (const form of forms) {
          const topic = topicOf(kind, form);
          const keyspace = `bp-${run}-${model}-${form}${round}`; // at most 32 characters
          const groupId = `bench.privacy.${model}.${form}.${round}.${run}`;
          groups.push(groupId);
          const replayed = await replayToEnd({ kafka, codec, redis, logger, model, keyspace, topic, groupId }, await endOffsets(admin, topic));
          if (replayed.applied === 0) throw new Error(`the ${form} replay of ${model} applied nothing`);
          pair.seconds[form].push(replayed.seconds);
          pair[form].push(events / replayed.seconds);
          pair.applied[form].push(replayed.applied);
          await dropKeyspace(redis, keyspace);
        }
      }
      pairs.push(pair);
    }
    return pairs;
  } finally {
    await admin.deleteGroups(groups).catch(() => undefined);
    await admin.deleteTopics({ topics: topics.map((t) => t.topic) }).catch(() => undefined);
    await Promise.all([producer.disconnect(), admin.disconnect()]);
  }
}
