/**
 * npm run bench:process-managers — order-fulfilment throughput beside a raw
 * kafkajs loop doing the same Kafka work without the runtime.
 *
 * Generates BENCH_PM_ORDERS (default 30,000) orders' events, 10 per order as
 * the command processor writes them (opened, two items, address, placed,
 * confirmed, preparing, ready, dispatched, delivered; every 7th cancelled after
 * confirmation), into a bench copy of restaurant.order.events, plus the
 * customers and menu snapshots the placement checks read. Then, in this
 * process and one after the other, each from offset 0 with a group of its own:
 *
 * - raw: a kafkajs consumer of the same input topics with the same consumer
 *   settings (so the same batch sizes), a transactional producer per
 *   partition, and per batch one transaction that writes each consumed
 *   message to the bench commands topic (the "transform" is a copy) with the
 *   consumed offsets: the ceiling for a transactional consume → produce loop.
 * - process manager: the real runtime with the fulfilment definition (header
 *   skip, decode, placement facts, decide, changelog, emitted messages,
 *   offsets, one transaction per partition and round).
 *
 * BENCH_PM_POSITIONS=group,changelog runs the process manager once per
 * position store (docs/stateful-runtime.md "Positions"), each with its own
 * changelog and group, in alternating order from one fetch size to the next.
 *
 * Each run ends when its group's committed offsets reach the input topics'
 * ends (with changelog positions: the lag report, up to a second late). Prints events/s for both and the ratio, plus RSS; asserts nothing about
 * time. Cleans up its topics and groups.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Kafka, Producer } from 'kafkajs';
import { config } from '../infra/config';
import { createKafka } from '../infra/kafka/client';
import { AvroCodec } from '../infra/kafka/codec';
import { createTopicsLed } from '../infra/kafka/create-topics';
import { fencedProducer } from '../infra/kafka/transactions';
import { rootLogger } from '../infra/logging';
import { orderFulfilmentProcess } from '../consumers/process-managers/order-fulfilment/order-fulfilment.process';
import { KafkaPlacementFacts } from '../consumers/process-managers/order-fulfilment/placement-facts';
import { ProcessManagerRuntime } from '../consumers/process-managers/runtime/runtime';
import type { FulfilmentInput } from '../consumers/process-managers/order-fulfilment/order-fulfilment.workflow';
import type { OrderFulfilmentState } from '../schemas/generated/types';
import { eventKey, partitionFor } from '../schemas/partitioning';
import { changelogTopicName, paymentTopicName, topicName } from '../schemas/topics';
import type { PositionsMode } from '../infra/stateful/position-store';
import { eur, orderEvents } from './generate';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
const ORDERS = Number(process.env.BENCH_PM_ORDERS ?? 30_000);
const PARTITIONS = 6;
const RUN = randomUUID().slice(0, 8);
// Orders placed now, a millisecond apart: their payment deadlines (5 minutes) stay pending during the run.
const T0 = Date.now();
const logger = rootLogger.child({ bench: 'process-managers' });
logger.level = process.env.LOG_LEVEL ?? 'error';

const TOPICS = {
  orderEvents: `bench.order.events.${RUN}`,
  orderCommands: `bench.order.commands.${RUN}`,
  customers: `bench.customer.snapshots.${RUN}`,
  menu: `bench.menu.snapshots.${RUN}`,
};

/**
 * Two fetch sizes, both loops alike: 1 MB per partition (kafkajs's default;
 * a catch-up reads thousands of events per batch) and 16 KB (~50 events per
 * batch, where the fixed cost of a transaction dominates, as in live traffic).
 * Each scenario has its own payment topics and changelog, so the second does
 * not restore the first one's processes.
 */
interface Scenario {
  readonly label: string;
  readonly fetchBytes: number;
  readonly paymentRequests: string;
  readonly paymentResults: string;
  readonly changelog: string;
  readonly inputs: readonly string[];
}
const SCENARIOS: readonly Scenario[] = (process.env.BENCH_PM_FETCH_BYTES ?? '1048576,16384').split(',').map((raw, i) => {
  const fetchBytes = Number(raw);
  const paymentRequests = `bench.payment.requests.${RUN}.${i}`;
  const paymentResults = `bench.payment.results.${RUN}.${i}`;
  return {
    label: fetchBytes >= 2 ** 20 ? `${fetchBytes / 2 ** 20} MB fetches` : `${fetchBytes / 1024} KB fetches`,
    fetchBytes,
    paymentRequests,
    paymentResults,
    changelog: `bench.order-fulfilment.changelog.${RUN}.${i}`,
    inputs: [TOPICS.orderEvents, paymentResults],
  };
});
const POSITIONS = (process.env.BENCH_PM_POSITIONS ?? 'group').split(',').map((m) => {
  if (m !== 'group' && m !== 'changelog') throw new Error(`BENCH_PM_POSITIONS: "${m}" is neither group nor changelog`);
  return m;
});
/** The scenario's changelog and payment requests of one position store (so one run does not restore another's processes). */
const ofPositions = (scenario: Scenario, mode: PositionsMode): Scenario =>
  POSITIONS.length === 1 ? scenario : { ...scenario, changelog: `${scenario.changelog}.${mode}`, paymentRequests: `${scenario.paymentRequests}.${mode}` };
const CUSTOMERS = 5_000;
const ITEMS = 40;

async function produceInputs(codec: AvroCodec, producer: Producer): Promise<number> {
  let chunk: Array<{ key: string; value: Buffer; partition: number; headers?: Record<string, string> }> = [];
  // Small produce requests (~100 events per partition): record batches on disk of the size the command
  // processor's transactions write, so the fetch size, not the producer, decides how big a consumed batch is.
  // One at a time: two sends in flight can land in either order, and an order's events must stay in order.
  const flush = async (topic: string): Promise<void> => {
    if (chunk.length > 0) await producer.send({ topic, acks: 1, messages: chunk });
    chunk = [];
  };
  /** Encoded with the schema ids of the real topic the record belongs on (no new subjects). */
  const put = async (topic: string, schemaTopic: string, fullName: string, key: string, partitionKey: string, value: object, headers?: Record<string, string>): Promise<void> => {
    chunk.push({ key, value: codec.encodeWithId(await codec.schemaId(schemaTopic, fullName), fullName, value), partition: partitionFor(partitionKey, PARTITIONS), ...(headers ? { headers } : {}) });
    if (chunk.length >= 600) await flush(topic);
  };
  let count = 0;
  for (const e of orderEvents({ orders: ORDERS }, { t0: T0, orderEveryMs: 1, stepEveryMs: 1, customers: CUSTOMERS, items: ITEMS })) {
    const { aggregateId, version } = e.metadata;
    await put(TOPICS.orderEvents, topicName('order', 'events'), `restaurant.order.${e.type}`, eventKey(aggregateId, version), aggregateId, { ...e.data, metadata: e.metadata }, { 'event-type': e.type });
    count += 1;
  }
  await flush(TOPICS.orderEvents);
  for (let i = 0; i < CUSTOMERS; i += 1) {
    const customerId = `customer-${i}`;
    await put(TOPICS.customers, topicName('customer', 'snapshots'), 'restaurant.customer.CustomerSnapshot', customerId, customerId, { customerId, version: 1, name: `Customer ${i}`, email: `c${i}@example.com`, addresses: [], recentCommands: [] });
  }
  await flush(TOPICS.customers);
  for (let i = 0; i < ITEMS; i += 1) {
    const menuItemId = `item-${i}`;
    await put(TOPICS.menu, topicName('menu', 'snapshots'), 'restaurant.menu.MenuItemSnapshot', menuItemId, menuItemId, { menuItemId, version: 1, name: `Dish ${i}`, description: 'bench', category: 'MAIN', price: eur(950), status: 'AVAILABLE', recentCommands: [] });
  }
  await flush(TOPICS.menu);
  return count;
}

/** Polls until the group has committed every input partition up to its end; returns the seconds since `started`. */
async function untilCommitted(kafka: Kafka, groupId: string, inputs: readonly string[], started: bigint): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = new Map<string, Map<number, number>>();
    for (const topic of inputs) ends.set(topic, new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)])));
    for (let polls = 0; polls < 120_000; polls += 1) {
      const committed = await admin.fetchOffsets({ groupId, topics: [...inputs] });
      const done = [...ends].every(([topic, parts]) =>
        [...parts].every(([p, end]) => end === 0 || Number(committed.find((t) => t.topic === topic)?.partitions.find((x) => x.partition === p)?.offset ?? -1) >= end),
      );
      if (done) return Number(process.hrtime.bigint() - started) / 1e9;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`${groupId} did not reach the end of its inputs`);
  } finally {
    await admin.disconnect();
  }
}

interface Result {
  readonly seconds: number;
  readonly transactions: number;
  readonly written: string;
  readonly rssStart: number;
  readonly rssEnd: number;
}

/** The ceiling: consume → copy → produce, one transaction per batch, same consumer settings as the runtime. */
async function raw(kafka: Kafka, scenario: Scenario, groupId: string): Promise<Result> {
  const rssStart = process.memoryUsage().rss;
  // Timed from nothing to done, as the runtime is (which fences its producers and joins in start()).
  const started = process.hrtime.bigint();
  const producers = await Promise.all(Array.from({ length: PARTITIONS }, (_, p) => fencedProducer(kafka, `${groupId}.${p}`)));
  const consumer = kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 50, sessionTimeout: 10_000, rebalanceTimeout: 20_000, heartbeatInterval: 1_000, maxBytesPerPartition: scenario.fetchBytes });
  let transactions = 0;
  let copies = 0;
  await consumer.connect();
  await consumer.subscribe({ topics: [...scenario.inputs], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: scenario.inputs.length * PARTITIONS,
    eachBatch: async ({ batch }) => {
      const transaction = await (producers[batch.partition] as Producer).transaction();
      try {
        await transaction.send({ topic: TOPICS.orderCommands, messages: batch.messages.map((m) => ({ key: m.key, value: m.value, partition: batch.partition })) });
        await transaction.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: String(Number(batch.lastOffset()) + 1) }] }] });
        await transaction.commit();
        transactions += 1;
        copies += batch.messages.length;
      } catch (error) {
        await transaction.abort().catch(() => undefined);
        throw error;
      }
    },
  });
  const seconds = await untilCommitted(kafka, groupId, scenario.inputs, started);
  const rssEnd = process.memoryUsage().rss;
  await consumer.disconnect();
  await Promise.all(producers.map((p) => p.disconnect()));
  return { seconds, transactions, written: `${copies} copies`, rssStart, rssEnd };
}

interface Restart {
  readonly seconds: number;
  readonly restored: number;
}

async function processManager(kafka: Kafka, codec: AvroCodec, scenario: Scenario, groupId: string, positions: PositionsMode): Promise<Result & { readonly delta: Restart; readonly scratch: Restart }> {
  const rssStart = process.memoryUsage().rss;
  const stateDir = mkdtempSync(join(tmpdir(), 'bench-pm-'));
  // The fact views read their topics once before the clock starts (a start-up cost, not throughput).
  const facts = new KafkaPlacementFacts(kafka, codec, logger, { customerSnapshots: TOPICS.customers, menuSnapshots: TOPICS.menu });
  await facts.start();
  const runtime = (dir: string | undefined): ProcessManagerRuntime<OrderFulfilmentState, FulfilmentInput> => new ProcessManagerRuntime({
    kafka,
    ...(dir === undefined ? {} : { stateDir: dir }),
    codec,
    logger,
    groupId,
    definition: { ...orderFulfilmentProcess({ facts: { factsFor: (orders) => facts.factsFor(orders) } }), positions },
    topicMap: {
      [topicName('order', 'events')]: TOPICS.orderEvents,
      [paymentTopicName('requests')]: scenario.paymentRequests,
      [paymentTopicName('results')]: scenario.paymentResults,
      [topicName('order', 'commands')]: TOPICS.orderCommands,
      [changelogTopicName('order-fulfilment')]: scenario.changelog,
    },
    maxBytesPerPartition: scenario.fetchBytes,
    offsetFlushMs: 50,
  });
  const first = runtime(stateDir);
  const started = process.hrtime.bigint();
  await first.start();
  const seconds = await untilCommitted(kafka, groupId, scenario.inputs, started);
  const rssEnd = process.memoryUsage().rss;
  await first.stop();
  // Read after stop: the commit the poll saw may be a moment ahead of the runtime's own bookkeeping.
  const stats = first.stats();

  // Restarts: how long until every process is back, with the stores of the first run (a delta restore) and without (from the changelog).
  const restart = async (dir: string | undefined): Promise<Restart> => {
    const again = runtime(dir);
    const restoring = process.hrtime.bigint();
    await again.start();
    for (let polls = 0; again.stats().instances < stats.instances && polls < 12_000; polls += 1) await new Promise((resolve) => setTimeout(resolve, 10));
    const result = { seconds: Number(process.hrtime.bigint() - restoring) / 1e9, restored: again.stats().instances };
    await again.stop();
    return result;
  };
  const delta = await restart(stateDir);
  const scratch = await restart(undefined);
  rmSync(stateDir, { recursive: true, force: true });
  await facts.stop();
  return { seconds, transactions: stats.transactions, written: `${stats.instances} processes, ${stats.inputsChanged} state changes, ${stats.messagesEmitted} emitted`, rssStart, rssEnd, delta, scratch };
}

async function main(): Promise<void> {
  const kafka = createKafka(`bench.${RUN}`, logger);
  const codec = new AvroCodec(new SchemaRegistry({ host: config().registry.url }));
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer();
  await producer.connect();
  const groups: string[] = [];
  const topics = [...Object.values(TOPICS), ...SCENARIOS.flatMap((s) => [s.paymentResults, ...POSITIONS.flatMap((m) => [ofPositions(s, m).paymentRequests, ofPositions(s, m).changelog])])];
  try {
    await createTopicsLed(
      admin,
      topics.map((topic) => ({
        topic,
        numPartitions: PARTITIONS,
        replicationFactor: 1,
        ...(topic.includes('.changelog.') ? { configEntries: [{ name: 'cleanup.policy', value: 'compact' }] } : {}),
      })),
    );
    const generated = Date.now();
    const events = await produceInputs(codec, producer);
    console.log(`produced ${events.toLocaleString('en')} order events (${ORDERS.toLocaleString('en')} orders) to ${TOPICS.orderEvents} in ${((Date.now() - generated) / 1000).toFixed(1)} s`);

    const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MB`;
    const rate = (seconds: number): number => events / seconds;
    const header = ['fetch', 'loop', 'events', 'time', 'rate', 'transactions', 'written', 'rss start', 'rss end'];
    const rows: string[][] = [];
    const ratios: string[] = [];
    const restores: string[] = [];
    for (const [i, scenario] of SCENARIOS.entries()) {
      groups.push(`bench.pm-raw.${RUN}.${i}`);
      const baseline = await raw(kafka, scenario, `bench.pm-raw.${RUN}.${i}`);
      rows.push([scenario.label, 'raw consume → copy → produce', events.toLocaleString('en'), `${baseline.seconds.toFixed(1)} s`, `${Math.round(rate(baseline.seconds)).toLocaleString('en')}/s`, `${baseline.transactions}`, baseline.written, mb(baseline.rssStart), mb(baseline.rssEnd)]);
      // Alternating order from one fetch size to the next, so neither position store always runs on a warmer broker.
      for (const mode of i % 2 === 0 ? POSITIONS : [...POSITIONS].reverse()) {
        const group = `bench.pm.${RUN}.${i}${POSITIONS.length === 1 ? '' : `.${mode}`}`;
        groups.push(group);
        global.gc?.();
        const pm = await processManager(kafka, codec, ofPositions(scenario, mode), group, mode);
        const loop = POSITIONS.length === 1 ? 'order-fulfilment process manager' : `order-fulfilment, ${mode} positions`;
        rows.push([scenario.label, loop, events.toLocaleString('en'), `${pm.seconds.toFixed(1)} s`, `${Math.round(rate(pm.seconds)).toLocaleString('en')}/s`, `${pm.transactions}`, pm.written, mb(pm.rssStart), mb(pm.rssEnd)]);
        ratios.push(`${scenario.label}${POSITIONS.length === 1 ? '' : `, ${mode}`}: ${(rate(pm.seconds) / rate(baseline.seconds)).toFixed(2)}`);
        restores.push(
          `${POSITIONS.length === 1 ? '' : `${mode}: `}${pm.delta.restored.toLocaleString('en')} processes in ${pm.delta.seconds.toFixed(2)} s with the stores (delta), ${pm.scratch.restored.toLocaleString('en')} in ${pm.scratch.seconds.toFixed(2)} s without (from the changelog; ratio ${(pm.delta.seconds / pm.scratch.seconds).toFixed(2)})`,
        );
      }
    }
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const line = (cells: readonly string[]): string => cells.map((c, i) => (i <= 1 || i === 6 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
    console.log(`\nprocess manager vs a raw transactional kafkajs loop over the same topics, from offset 0 (${PARTITIONS} partitions, both loops alike per fetch size)`);
    console.log(line(header));
    for (const r of rows) console.log(line(r));
    console.log(`ratio (process manager / raw events per second): ${ratios.join(', ')}`);
    console.log(`restart of the process manager until every process is back: ${restores.join('; ')}`);
  } finally {
    await admin.deleteGroups(groups).catch(() => undefined);
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await producer.disconnect();
    await admin.disconnect();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
