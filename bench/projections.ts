/**
 * npm run bench:projections — replay rate of every projection from offset 0.
 *
 * Generates BENCH_EVENTS (default 500,000) valid Avro events per aggregate kind
 * (menu, customer, order) straight into dedicated bench topics
 * (`bench.<kind>.events.<run>`, 6 partitions, keys and headers as the command
 * processor writes them, schema ids of the real events topics), then for each
 * read model runs a Projector from offset 0 into a bench keyspace until its
 * checkpoint reaches the end, beside a raw kafkajs eachBatch consume of the
 * same topic that does nothing (the ceiling). Prints events/s, the ratio to the
 * ceiling, and the process RSS at the start and end of each replay (the
 * projector runs in this process). BENCH_MODELS (comma-separated) replays only
 * those read models.
 *
 * Where the time goes, in the same run (BENCH_STAGES=0 leaves it out): each
 * read model's topic is also consumed through the projector's own consumer
 * (EventConsumer) with the work cut short after a stage, and nothing written:
 * `decode` (skip by header, Avro-decode what the model reads), `project` (+ the
 * projection's evolve into write ops, stateful models' state kept in memory),
 * `encode` (+ the batch's script arguments, JSON included). The full replay adds
 * to that the Redis round trips (stateful models' MGET, the script) and the
 * checkpoint. Asserts nothing about time. Cleans up its topics, groups and keys.
 */
import { randomUUID } from 'node:crypto';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import Redis from 'ioredis';
import { config } from '../infra/config';
import { createKafka } from '../infra/kafka/client';
import { AvroCodec } from '../infra/kafka/codec';
import { createTopicsLed } from '../infra/kafka/create-topics';
import { rootLogger } from '../infra/logging';
import { EventConsumer } from '../infra/consuming/event-consumer';
import type { BatchSink } from '../infra/consuming/batch-sink';
import { encodePartitionBatch, envelopesOf, projectBatch, type AggregateState } from '../consumers/projections/runtime/projector';
import { READ_MODEL_SPECS } from '../consumers/projections/runtime/read-models';
import { scriptArgument } from '../consumers/projections/runtime/redis-batch';
import type { ReadModelName } from '../consumers/projections/shared/keys';
import { customerEvents, eur, meta, orderEvents, type Generated } from './generate';
import { dropKeyspace, endOffsets, produceEvents, replayToEnd } from './replay';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { startTracing } from '../infra/tracing/sdk';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
const EVENTS = Number(process.env.BENCH_EVENTS ?? 500_000);
const PARTITIONS = 6;
/** BENCH_MODELS=customers,orders replays only those read models (and generates only their topics). */
const ONLY = process.env.BENCH_MODELS?.split(',').map((m) => m.trim()).filter((m) => m !== '');
const STAGES = process.env.BENCH_STAGES !== '0';
const RUN = randomUUID().slice(0, 8);
/** BENCH_JSON: a file to write each model's replay rate, ratio to its ceiling and node CPU seconds (its own and the raw consume's) to, for bench:tracing. */
const JSON_OUT = process.env.BENCH_JSON;
/**
 * With TRACING on (bench:tracing), the projector here records spans, and every
 * event carries the trace context the command processor would have written:
 * one trace per aggregate (an order's events share its trace), sampled as the
 * gateway's root sampler would decide with TRACING_SAMPLE_RATIO.
 */
const TRACING = config().tracing;
const hex = (text: string, length: number): string => createHash('sha256').update(text).digest('hex').slice(0, length);
function traceHeaders(e: Generated): Record<string, string> {
  if (TRACING.mode === 'off') return {};
  const traceId = hex(e.metadata.aggregateId, 32);
  const sampled = parseInt(traceId.slice(0, 8), 16) / 2 ** 32 < TRACING.sampleRatio;
  return { traceparent: `00-${traceId}-${hex(e.metadata.eventId, 16)}-${sampled ? '01' : '00'}` };
}
const KEYSPACE = `bench-${RUN}`;
const T0 = Date.UTC(2025, 0, 1);
const logger = rootLogger.child({ bench: 'projections' });
logger.level = process.env.LOG_LEVEL ?? 'warn';

const CATEGORIES = ['STARTER', 'MAIN', 'SIDE', 'DESSERT', 'DRINK'];

/** 10 events per menu item: added, then price changes and sold-out/back-in-stock. */
function* menuEvents(n: number): Generator<Generated> {
  for (let i = 0, count = 0; count < n; i += 1) {
    const id = `item-${i}`;
    const at = T0 + i * 1000;
    for (let v = 1; v <= 10 && count < n; v += 1, count += 1) {
      if (v === 1) yield { type: 'MenuItemAdded', data: { name: `Dish ${i}`, description: 'bench', category: CATEGORIES[i % 5], price: eur(900) }, metadata: meta(id, v, at) };
      else if (v % 3 === 0) yield { type: 'MenuItemSoldOut', data: {}, metadata: meta(id, v, at + v) };
      else if (v % 3 === 1) yield { type: 'MenuItemBackInStock', data: {}, metadata: meta(id, v, at + v) };
      else yield { type: 'MenuItemPriceChanged', data: { previousPrice: eur(900 + v - 1), price: eur(900 + v) }, metadata: meta(id, v, at + v) };
    }
  }
}

/** Time Redis has spent running scripts (EVALSHA), in microseconds: where a replay's writes cost. */
async function scriptMicros(redis: Redis): Promise<number> {
  const stats = await redis.info('commandstats');
  return Number(/cmdstat_evalsha:calls=\d+,usec=(\d+)/.exec(stats)?.[1] ?? 0);
}

const ALL_MODELS: ReadonlyArray<readonly [ReadModelName, 'menu' | 'customer' | 'order']> = [
  ['menu', 'menu'],
  ['customers', 'customer'],
  ['orders', 'order'],
  ['kitchen', 'order'],
  ['sales', 'order'],
];

async function main(): Promise<void> {
  const kafka = createKafka(`bench.${RUN}`, logger);
  const codec = new AvroCodec(new SchemaRegistry({ host: config().registry.url }));
  const redis = new Redis(config().redis.url);
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer();
  const tracing = startTracing(TRACING, 'bench-projections');
  await producer.connect();
  const topics: Record<'menu' | 'customer' | 'order', string> = {
    menu: `bench.menu.events.${RUN}`,
    customer: `bench.customer.events.${RUN}`,
    order: `bench.order.events.${RUN}`,
  };
  const groups: string[] = [];
  const MODELS = ALL_MODELS.filter(([model]) => ONLY === undefined || ONLY.includes(model));
  if (MODELS.length === 0) throw new Error(`BENCH_MODELS=${process.env.BENCH_MODELS ?? ''} names no read model (${ALL_MODELS.map(([m]) => m).join(', ')})`);
  const kinds = [...new Set(MODELS.map(([, kind]) => kind))];
  try {
    await createTopicsLed(admin, kinds.map((kind) => topics[kind]).map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 1 })));
    const generators = {
      menu: menuEvents,
      customer: (n: number) => customerEvents(n, T0),
      order: (n: number) => orderEvents({ events: n }, { t0: T0, orderEveryMs: 60_000, stepEveryMs: 1000, customers: 5000, items: 40 }),
    };
    for (const kind of kinds) {
      const started = Date.now();
      await produceEvents(producer, codec, kind, topics[kind], PARTITIONS, generators[kind](EVENTS), traceHeaders);
      console.log(`produced ${EVENTS.toLocaleString('en')} ${kind} events to ${topics[kind]} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }

    const ends = (topic: string) => endOffsets(admin, topic);

    /** The ceiling: a group that reads the topic with eachBatch and does nothing. */
    const raw = async (topic: string): Promise<{ rate: number; cpuSeconds: number }> => {
      const end = await ends(topic);
      const groupId = `bench.raw.${RUN}.${topic}`;
      groups.push(groupId);
      const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
      const remaining = new Set([...end].filter(([, high]) => high > 0).map(([p]) => p));
      let done: () => void = () => undefined;
      const finished = new Promise<void>((resolve) => (done = resolve));
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const started = process.hrtime.bigint();
      const cpuBefore = process.cpuUsage();
      await consumer.run({
        partitionsConsumedConcurrently: 3,
        eachBatch: async ({ batch }) => {
          if (Number(batch.lastOffset()) + 1 >= (end.get(batch.partition) ?? 0)) remaining.delete(batch.partition);
          if (remaining.size === 0) done();
        },
      });
      await finished;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      await consumer.disconnect();
      const cpu = process.cpuUsage(cpuBefore);
      return { rate: EVENTS / seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
    };

    const ceilings = new Map<string, { rate: number; cpuSeconds: number }>();
    for (const topic of new Set(MODELS.map(([, kind]) => topics[kind]))) ceilings.set(topic, await raw(topic));

    type Stage = 'decode' | 'project' | 'encode';
    /** The projector's consumer over `topic` with the work cut short after `stage`; events/s and node CPU seconds. */
    const upTo = async (model: ReadModelName, topic: string, stage: Stage): Promise<{ rate: number; cpuSeconds: number }> => {
      const end = await ends(topic);
      const spec = READ_MODEL_SPECS[model];
      const stateful = spec.projection.stateKey(KEYSPACE, 'x') !== null;
      const states = new Map<string, AggregateState>();
      let sink = 0; // what the stage produced, so nothing is optimised away
      const cutShort: BatchSink = {
        write: async (batch) => {
          if (stage === 'decode') return;
          const { writes } = projectBatch(spec, KEYSPACE, envelopesOf(batch.records), stateful ? states : undefined);
          if (stage === 'project') {
            sink += writes.length;
            return;
          }
          sink += scriptArgument(encodePartitionBatch(KEYSPACE, model, writes, batch)).length;
        },
      };
      const reached = new Map<number, number>();
      let done: () => void = () => undefined;
      const finished = new Promise<void>((resolve) => (done = resolve));
      const groupId = `bench.stage.${stage}.${model}.${RUN}`;
      groups.push(groupId);
      const consumer = new EventConsumer({
        kafka,
        codec,
        logger,
        groupId,
        topics: [topic],
        handles: spec.projection.handles,
        sink: cutShort,
        checkpointCheckMs: 0,
        onProgress: ({ partition, position }) => {
          reached.set(partition, position);
          if ([...end].every(([p, high]) => (reached.get(p) ?? 0) >= high)) done();
        },
      });
      global.gc?.();
      const cpuBefore = process.cpuUsage();
      const started = process.hrtime.bigint();
      await consumer.start();
      await finished;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const cpu = process.cpuUsage(cpuBefore);
      await consumer.stop();
      if (stage !== 'decode' && sink === 0) throw new Error(`the ${stage} stage of ${model} produced nothing`);
      return { rate: EVENTS / seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
    };

    const stageRows: string[][] = [];
    const rows: string[][] = [];
    for (const [model, kind] of MODELS) {
      if (STAGES) {
        const topic = topics[kind];
        const ceiling = ceilings.get(topic) ?? { rate: NaN, cpuSeconds: NaN };
        const cells: string[] = [model];
        for (const stage of ['decode', 'project', 'encode'] as const) {
          const r = await upTo(model, topic, stage);
          cells.push(`${Math.round(r.rate).toLocaleString('en')}/s`, (r.rate / ceiling.rate).toFixed(3), `${r.cpuSeconds.toFixed(1)} s`);
        }
        stageRows.push(cells);
      }
      const topic = topics[kind];
      const end = await ends(topic);
      global.gc?.();
      const redisBefore = await scriptMicros(redis);
      const cpuBefore = process.cpuUsage();
      const rssStart = process.memoryUsage().rss;
      const groupId = `bench.projection.${model}.${RUN}`;
      groups.push(groupId);
      const { seconds, peakRss: peak, applied } = await replayToEnd({ kafka, codec, redis, logger, model, keyspace: KEYSPACE, topic, groupId }, end);
      const rssEnd = process.memoryUsage().rss;
      const cpu = process.cpuUsage(cpuBefore);
      const redisSeconds = ((await scriptMicros(redis)) - redisBefore) / 1e6;
      const rate = EVENTS / seconds;
      const ceiling = ceilings.get(topic) ?? { rate: NaN, cpuSeconds: NaN };
      const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MB`;
      rows.push([model, EVENTS.toLocaleString('en'), `${seconds.toFixed(1)} s`, `${Math.round(rate).toLocaleString('en')}/s`, `${Math.round(ceiling.rate).toLocaleString('en')}/s`, `${(rate / ceiling.rate).toFixed(3)}`, mb(rssStart), mb(rssEnd), mb(peak), `${applied}`, `${((cpu.user + cpu.system) / 1e6).toFixed(2)} s`, `${ceiling.cpuSeconds.toFixed(2)} s`, `${redisSeconds.toFixed(1)} s`]);
    }
    const header = ['read model', 'events', 'replay', 'rate', 'raw eachBatch', 'ratio', 'rss start', 'rss end', 'rss peak', 'applied', 'node cpu', 'raw node cpu', 'redis script'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ');
    console.log(`\nprojection replay from offset 0 (${PARTITIONS} partitions, Redis ${config().redis.url}, keyspace ${KEYSPACE})`);
    console.log(line(header));
    for (const r of rows) console.log(line(r));
    if (JSON_OUT !== undefined) fs.writeFileSync(JSON_OUT, JSON.stringify(rows.map((r) => ({ model: r[0], rate: Number((r[3] ?? '').replace(/[^\d.]/g, '')), ratio: Number(r[5]), cpuSeconds: parseFloat(r[10] ?? ''), rawCpuSeconds: parseFloat(r[11] ?? '') }))));
    if (stageRows.length > 0) {
      console.log('\nwhere the time goes: the projector\'s consumer cut short after each stage, writing nothing (rate, ratio to raw eachBatch, node cpu)');
      const stageHeader = ['read model', 'decode', 'ratio', 'cpu', '+ project', 'ratio', 'cpu', '+ encode', 'ratio', 'cpu'];
      const stageWidths = stageHeader.map((h, i) => Math.max(h.length, ...stageRows.map((r) => (r[i] ?? '').length)));
      for (const r of [stageHeader, ...stageRows]) console.log(r.map((c, i) => c.padStart(stageWidths[i] ?? 0)).join('  '));
    }
  } finally {
    await dropKeyspace(redis, KEYSPACE);
    await admin.deleteGroups(groups).catch(() => undefined);
    await admin.deleteTopics({ topics: kinds.map((kind) => topics[kind]) }).catch(() => undefined);
    await producer.disconnect();
    await admin.disconnect();
    await redis.quit();
    await tracing?.shutdown();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

