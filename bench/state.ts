/**
 * npm run bench:state — state that outgrows memory (issue 14, docs/scaling.md).
 *
 * For each size in BENCH_STATE_SIZES (default 100000,1000000,5000000) it fills
 * a topic set of its own (`bench-state-<size>.*`, bench/state/topic-set.ts)
 * with that many order snapshots and measures, in the same run:
 *   - the raw read of the snapshot topic (readToEnd, no processing): the baseline;
 *   - the command processor (on the stateful runtime; it keeps its aggregates
 *     in on-disk stores, STATE_DIR)
 *     started from dist with TOPIC_PREFIX on that set, with
 *     its state directory deleted (from scratch) and again after a clean stop
 *     (store present): time to ready, the restore it logs, resident memory, and
 *     OpenOrder commands at BENCH_STATE_RATE (500/s) right after the restore;
 *   - the peer: a Kafka Streams application (bench/streams-peer, exactly_once_v2,
 *     RocksDB) restoring the same snapshot topic: its first load, after a clean
 *     stop, from scratch; restore time and resident memory.
 * It prints figures beside the aims of issue 14 and asserts nothing.
 *
 * BENCH_STATE_SIZES, BENCH_STATE_RATE (500), BENCH_STATE_SECONDS (10),
 * BENCH_STATE_PARTITIONS (6), BENCH_STATE_PROCESSOR_HEAP_MB (192, the
 * production budget of docs/command-side.md: the processor keeps its
 * aggregates on disk; 4096 for one that holds them all), BENCH_STATE_DIR_VAR (STATE_DIR:
 * the variable the processor takes its on-disk store's folder from),
 * BENCH_STATE_PEER_JVM (-Xmx256m), BENCH_STATE_PEER=off (skip the peer),
 * BENCH_STATE_WRITERS (e.g. inline,worker,worker/own: one from-scratch start
 * per entry, in that order, with STATE_RESTORE_WRITER set to it and, after a
 * slash, STATE_RESTORE_WRITER_THREADS; default one start with the processor's
 * default).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Kafka } from 'kafkajs';
import { mintToken } from '../infra/auth/local-issuer';
import { config } from '../infra/config';
import { createKafka } from '../infra/kafka/client';
import { AvroCodec } from '../infra/kafka/codec';
import { readToEnd } from '../infra/kafka/read-to-end';
import { rootLogger } from '../infra/logging';
import { claimsFor, stackSigningKey } from '../test/support/auth';
import { openLoop, post, sleep, type Request, type Result } from './http-load';
import { buildPeer, restoreLogged, rssMb, startPeer, startTimed, type PeerSettings } from './state/processes';
import { benchTopics, ensureTopicSet, type BenchTopics } from './state/topic-set';

const SIZES = (process.env.BENCH_STATE_SIZES ?? '100000,1000000,5000000').split(',').map(Number);
const RATE = Number(process.env.BENCH_STATE_RATE ?? 500);
const SECONDS = Number(process.env.BENCH_STATE_SECONDS ?? 10);
const PARTITIONS = Number(process.env.BENCH_STATE_PARTITIONS ?? 6);
const HEAP_MB = Number(process.env.BENCH_STATE_PROCESSOR_HEAP_MB ?? 192);
const STATE_DIR_VAR = process.env.BENCH_STATE_DIR_VAR ?? 'STATE_DIR';
const PEER_JVM = (process.env.BENCH_STATE_PEER_JVM ?? '-Xmx256m').split(' ').filter((f) => f !== '');
const WITH_PEER = process.env.BENCH_STATE_PEER !== 'off';
const WRITERS = (process.env.BENCH_STATE_WRITERS ?? '').split(',').filter((w) => w !== '');
const CUSTOMERS = 200;

const fmt = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const secs = (ms: number): string => `${fmt(ms / 1000, 2)} s`;
const perSec = (records: number, ms: number): string => `${Math.round((records / ms) * 1000).toLocaleString('en')}/s`;

interface Row {
  readonly what: string;
  readonly readyMs: number;
  /** The machine's 1-minute load average when the run started. */
  readonly loadAvg?: number;
  /** The restore alone, as the process reports it; undefined when it does not. */
  readonly restore?: { readonly ms: number; readonly records: number; readonly stores?: number; readonly storeMs?: number };
  readonly rssReady: number;
  readonly rssAfterLoad?: number;
  readonly load?: Result;
  /** The same load once more, right after the first: the processor warm. */
  readonly again?: Result;
  /** Why it did not become ready (e.g. a processor holding every aggregate out of heap at millions of them). */
  readonly failed?: string;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

/** Until the peer's group has committed every snapshot partition up to its end (a transaction marker may follow the last record). */
async function peerCaughtUp(kafka: Kafka, groupId: string, topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + 1_800_000;
    while (Date.now() < deadline) {
      const ends = await admin.fetchTopicOffsets(topic);
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const at = new Map((committed?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
      if (ends.every((e) => (at.get(e.partition) ?? -1) >= Number(e.high) - 1)) return;
      await sleep(500);
    }
    throw new Error(`the Streams peer did not process ${topic} to its end within 30 minutes`);
  } finally {
    await admin.disconnect();
  }
}

async function measureProcessor(topics: BenchTopics, work: string, orders: (url: string) => Request, offset: { next: number }): Promise<Row[]> {
  const prefix = { TOPIC_PREFIX: topics.prefix, COMMAND_WAIT_MS: '5000' };
  const stateDir = path.join(work, 'processor');
  const processorEnv = { ...prefix, [STATE_DIR_VAR]: stateDir, COMMAND_PARTITIONS_PER_WORKER: String(PARTITIONS), LOG_LEVEL: 'info', LOG_FORMAT: 'json', NODE_OPTIONS: `--max-old-space-size=${HEAP_MB}` };
  const gateway = await startTimed('gateway', { ...prefix, NODE_OPTIONS: '--max-old-space-size=96' });
  const rows: Row[] = [];
  try {
    const fromScratch = WRITERS.length === 0 ? [['processor, store deleted', undefined] as const] : WRITERS.map((w) => [`processor, store deleted, ${w}`, w] as const);
    for (const [what, writer] of [...fromScratch, ['processor, after a clean stop', undefined] as const]) {
      if (what.includes('deleted')) fs.rmSync(stateDir, { recursive: true, force: true });
      const t0 = Date.now();
      const loadAvg = os.loadavg()[0] ?? NaN;
      const [where, threads] = writer?.split('/') ?? [];
      const writerEnv = { ...(where === undefined ? {} : { STATE_RESTORE_WRITER: where }), ...(threads === undefined ? {} : { STATE_RESTORE_WRITER_THREADS: threads }) };
      const started = await startTimed('command-processor', { ...processorEnv, ...writerEnv }).catch((error: unknown) => error as Error);
      if (started instanceof Error) {
        // A figure too: e.g. a processor that holds every aggregate runs out of heap. The next run would fail the same way.
        const why = /heap out of memory|exited with \S+/i.exec(started.message)?.[0] ?? started.message.split('\n')[0] ?? 'failed';
        rows.push({ what, readyMs: Date.now() - t0, rssReady: NaN, failed: why });
        break;
      }
      const pid = started.process.child.pid;
      const rssReady = rssMb(pid);
      const logged = restoreLogged(started.process.output());
      // Right after the restore: no warm-up.
      const load = await openLoop(RATE, SECONDS, orders(gateway.process.url), (offset.next += 100_000));
      const again = await openLoop(RATE, SECONDS, orders(gateway.process.url), (offset.next += 100_000));
      const rssAfterLoad = rssMb(pid);
      await started.process.stop(60_000);
      rows.push({ what, readyMs: started.readyMs, ...(logged === undefined ? {} : { restore: { ms: logged.ms, records: logged.snapshots, stores: logged.stores, storeMs: logged.storeMs } }), rssReady, rssAfterLoad, load, again, loadAvg });
    }
  } finally {
    await gateway.process.stop();
  }
  return rows;
}

async function measurePeer(kafka: Kafka, topics: BenchTopics, work: string, classPath: string): Promise<Row[]> {
  const stateDir = path.join(work, 'peer');
  const settings: PeerSettings = {
    classPath,
    bootstrap: config().kafka.brokers.join(','),
    applicationId: `${topics.prefix}.streams-peer`,
    stateDir,
    snapshots: topics.snapshots,
    commands: topics.commands,
    replies: topics.peerReplies,
    jvm: PEER_JVM,
  };
  const rows: Row[] = [];
  const run = async (what: string, deleteStore: boolean, untilCaughtUp: boolean): Promise<void> => {
    if (deleteStore) fs.rmSync(stateDir, { recursive: true, force: true });
    const t0 = Date.now();
    const started = await startPeer(settings);
    if (untilCaughtUp) await peerCaughtUp(kafka, settings.applicationId, topics.snapshots);
    const readyMs = untilCaughtUp ? Date.now() - t0 : started.readyMs;
    rows.push({ what, readyMs, restore: started.process.restored, rssReady: rssMb(started.process.child.pid) });
    await started.process.stop();
  };
  // The first start builds the store by processing the topic (or restores it up to the group's committed offsets, on a re-run), then reads to the end.
  await run('peer, first load', true, true);
  await run('peer, after a clean stop', false, false);
  await run('peer, store deleted', true, false);
  return rows;
}

async function benchSize(size: number, kafka: Kafka, codec: AvroCodec, classPath: string | undefined, orders: (url: string) => Request, offset: { next: number }): Promise<void> {
  const topics = benchTopics(size, PARTITIONS);
  const generated = await ensureTopicSet(kafka, codec, size, topics);
  console.log(
    `\n${size.toLocaleString('en')} aggregates on ${topics.snapshots} (${PARTITIONS} partitions): ${generated.reused ? 'reused' : `generated in ${secs(generated.ms)}`};` +
      ` a snapshot is ${fmt(generated.valueBytes, 0)} B of value + ${generated.keyBytes} B of key`,
  );
  // Read twice (the first also warms the broker's page cache and the client); the faster counts.
  let bytes = 0;
  const read = () => timed(() => readToEnd(kafka, [{ topic: topics.snapshots }], ({ message }) => void (bytes += (message.value?.length ?? 0) + (message.key?.length ?? 0)), { timeoutMs: 1_800_000 }));
  const first = await read();
  bytes = 0;
  const second = await read();
  const raw = second.ms < first.ms ? second : first;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `bench-state-${size}-`));
  try {
    const rows = await measureProcessor(topics, work, orders, offset);
    if (classPath !== undefined) rows.push(...(await measurePeer(kafka, topics, work, classPath)));

    const records = raw.value.records;
    console.log(`  raw read of the snapshot topic (readToEnd, the baseline; faster of two): ${secs(raw.ms)}, ${records.toLocaleString('en')} records, ${perSec(records, raw.ms)}, ${fmt(bytes / 2 ** 20, 0)} MiB`);
    console.log(`  ${'run'.padEnd(34)} ${'ready after'.padStart(11)} ${'restore'.padStart(9)} ${'records'.padStart(10)} ${'rate'.padStart(11)} ${'× raw'.padStart(6)} ${'RSS ready'.padStart(9)} ${'after load'.padStart(10)} | ${RATE}/s right after: accepted/s  p99 ms  non-2xx | then again: accepted/s  p99 ms`);
    for (const r of rows) {
      if (r.failed !== undefined) {
        console.log(`  ${r.what.padEnd(34)} not ready: ${r.failed}, after ${secs(r.readyMs)}`);
        continue;
      }
      const restoreMs = r.restore?.ms ?? r.readyMs;
      const restored = r.restore?.records ?? NaN;
      console.log(
        `  ${r.what.padEnd(34)} ${secs(r.readyMs).padStart(11)} ${(r.restore === undefined ? '-' : secs(r.restore.ms)).padStart(9)} ${(Number.isFinite(restored) ? restored.toLocaleString('en') : '-').padStart(10)}` +
          ` ${(restored > 0 && restoreMs > 0 ? perSec(restored, restoreMs) : '-').padStart(11)} ${(Number.isFinite(restored) && restored > 0 ? fmt(raw.ms / restoreMs, 2) : '-').padStart(6)}` +
          ` ${`${fmt(r.rssReady, 0)} MB`.padStart(9)} ${(r.rssAfterLoad === undefined ? '-' : `${fmt(r.rssAfterLoad, 0)} MB`).padStart(10)} |` +
          (r.load === undefined ? '' : ` ${fmt(r.load.perSecond).padStart(22)} ${fmt(r.load.p99).padStart(7)} ${String(r.load.other).padStart(8)}`) +
          (r.again === undefined ? '' : ` | ${fmt(r.again.perSecond).padStart(21)} ${fmt(r.again.p99).padStart(7)}`) +
          (r.loadAvg === undefined ? '' : ` | load ${fmt(r.loadAvg, 1)}`),
      );
      if (r.restore?.stores !== undefined) {
        console.log(`  ${''.padEnd(34)} (${r.restore.stores} stores restored; their own restore times add up to ${secs(r.restore.storeMs ?? NaN)})`);
      }
    }
    const ours = rows.filter((r) => r.what.startsWith('processor') && r.failed === undefined);
    const scratch = ours.find((r) => r.what.includes('deleted'));
    const clean = ours.find((r) => r.what.includes('clean'));
    const maxRss = Math.max(...ours.map((r) => Math.max(r.rssReady, r.rssAfterLoad ?? 0)));
    console.log(
      `  aims (issue 14): resident memory ≤ 300 MB at 5,000,000 (here ${size.toLocaleString('en')}: ${fmt(maxRss, 0)} MB)` +
        ` | restore after a clean stop ≤ 2 s (${clean === undefined ? '-' : secs(clean.restore?.ms ?? clean.readyMs)}; ready after ${clean === undefined ? '-' : secs(clean.readyMs)})` +
        ` | from scratch ≥ 0.5 × raw read (${scratch === undefined ? '-' : fmt(raw.ms / (scratch.restore?.ms ?? scratch.readyMs), 2)} ×)`,
    );
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const kafka = createKafka('bench-state', rootLogger);
  const codec = new AvroCodec(new SchemaRegistry({ host: config().registry.url }));
  const classPath = WITH_PEER ? buildPeer() : undefined;
  const key = await stackSigningKey();
  const customers: Array<Record<string, string>> = [];
  for (let c = 0; c < CUSTOMERS; c += 1) customers.push({ authorization: `Bearer ${await mintToken(key, claimsFor('customer', `bench-state-${c}`))}` });
  // OpenOrder by one of the customers: always accepted, a new aggregate each (the restored ones stay cold).
  const orders =
    (url: string): Request =>
    (i) =>
      post(`${url}/orders`, { customerId: `bench-state-${i % CUSTOMERS}` }, customers[i % CUSTOMERS] as Record<string, string>);
  console.log(
    `state bench: the processor on the stateful runtime; sizes ${SIZES.join(', ')}, ${PARTITIONS} partitions, ${RATE}/s for ${SECONDS} s after each restore, processor heap limit ${HEAP_MB} MB, store folder in ${STATE_DIR_VAR},` +
      ` peer ${WITH_PEER ? `Kafka Streams (JVM ${PEER_JVM.join(' ')})` : 'off'}; load average ${fmt(os.loadavg()[0] ?? NaN)} on ${os.cpus().length} cores`,
  );
  const offset = { next: Date.now() % 1_000_000_000 };
  for (const size of SIZES) await benchSize(size, kafka, codec, classPath, orders, offset);
}

main().catch((error: unknown) => {
  console.error('bench failed', error);
  process.exit(1);
});
