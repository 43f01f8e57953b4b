// Restore of a partition task's on-disk store (infra/state) from a changelog
// of snapshot records: from scratch (store deleted) and after a clean stop
// (delta only), beside a raw read of the same changelog partition in the same
// run (docs/state-stores.md "Restore figures").
//
//   npm run bench:state-restore
//   STATE_RESTORE_SIZES=100000 STATE_RESTORE_DELTA=1000 STATE_RESTORE_ROUNDS=2 npm run bench:state-restore
//
// From scratch it restores STATE_RESTORE_ROUNDS (default 2) times each way,
// alternating: store writes on this thread (inline) and on a worker thread.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { createTopicsLed } from '../infra/kafka/create-topics';
import { config } from '../infra/config';
import { readToEnd } from '../infra/kafka/read-to-end';
import { fencedProducer } from '../infra/kafka/transactions';
import { FOLD_VERSION_HEADER, restoreFromChangelog, type Change } from '../infra/state/changelog-restore';
import { inspectStore, openAndRestore } from '../infra/state/open-store';
import type { StoreIdentity } from '../infra/state/restore-plan';
import { snapshotKey, snapshotValue } from './snapshot-values';

const SIZES = (process.env.STATE_RESTORE_SIZES ?? '100000,1000000').split(',').map(Number);
const DELTA = Number(process.env.STATE_RESTORE_DELTA ?? 1000);
const ROUNDS = Number(process.env.STATE_RESTORE_ROUNDS ?? 2);
const TXN = 10_000;
const SEND = 2_000;

const kafka = new Kafka({ clientId: 'bench-state-restore', brokers: [...config().kafka.brokers], logLevel: logLevel.NOTHING });
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);

async function produce(topic: string, from: number, count: number, version: number): Promise<void> {
  const producer = await fencedProducer(kafka, `bench.state-restore.${topic}`);
  try {
    for (let start = from; start < from + count; start += TXN) {
      const txn = await producer.transaction();
      for (let s = start; s < Math.min(start + TXN, from + count); s += SEND) {
        const messages = [];
        for (let i = s; i < Math.min(s + SEND, from + count); i += 1) {
          // Past the initial fill, updates land on existing keys, spread over the key space.
          const key = version === 1 ? i : (i * 7919) % SIZES[SIZES.length - 1]!;
          messages.push({ key: snapshotKey(key), value: snapshotValue(key, version), partition: 0, headers: { [FOLD_VERSION_HEADER]: '1' } });
        }
        await txn.send({ topic, messages, acks: -1 });
      }
      await txn.commit();
    }
  } finally {
    await producer.disconnect();
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = process.hrtime.bigint();
  const value = await fn();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, value };
}

async function benchSize(size: number): Promise<void> {
  const topic = `bench.state-changelog-${size}-${Date.now()}`;
  const admin = kafka.admin();
  await admin.connect();
  await createTopicsLed(admin, [{ topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }]);
  const dir = mkdtempSync(join(tmpdir(), 'state-restore-bench-'));
  const identity: StoreIdentity = { topic, partition: 0, epoch: 'bench', foldVersion: 1 };
  const decode = (bytes: Buffer) => bytes;
  try {
    const filled = await timed(() => produce(topic, 0, size, 1));
    console.log(`${size.toLocaleString('en')} snapshot records: written in ${(filled.ms / 1000).toFixed(1)} s`);

    const raw = await timed(() => readToEnd(kafka, [{ topic, partitions: [0] }], () => undefined));
    const counting = { offset: 0, reflectsOffset: () => counting.offset, apply: (_: readonly Change[], o: number) => void (counting.offset = o) };
    const rawSameFetch = await timed(() => restoreFromChangelog(kafka, counting, { topic, partition: 0 }));
    const rate = (records: number, ms: number) => `${((records / ms) * 1000).toFixed(0)}/s`;
    console.log(`  raw read (readToEnd, 1 MiB fetches)        ${(raw.ms / 1000).toFixed(2)} s  ${raw.value.records} records  ${rate(raw.value.records, raw.ms)}`);
    console.log(`  raw read (restore reader, no store)        ${(rawSameFetch.ms / 1000).toFixed(2)} s  ${rawSameFetch.value.records} records  ${rate(rawSameFetch.value.records, rawSameFetch.ms)}`);
    for (let round = 1; round <= ROUNDS; round += 1) {
      for (const writer of ['inline', 'worker'] as const) {
        rmSync(join(dir, 'p0'), { recursive: true, force: true });
        const rssBefore = process.memoryUsage().rss;
        const scratch = await timed(() => openAndRestore(kafka, join(dir, 'p0'), identity, { decode, writer }));
        if (scratch.value.kind !== 'ready') throw new Error(scratch.value.message);
        const stored = scratch.value.store.size();
        scratch.value.store.close();
        const rssAfter = process.memoryUsage().rss;
        const w = scratch.value.restore.writer;
        const spent = w === undefined ? '' : `; worker: ${w.batches} batches, writing ${(w.writeMs / 1000).toFixed(2)} s, packing ${(w.packMs / 1000).toFixed(2)} s, waiting for it ${(w.waitMs / 1000).toFixed(2)} s`;
        console.log(
          `  restore from scratch, ${writer.padEnd(6)} writes    ${(scratch.ms / 1000).toFixed(2)} s  ${scratch.value.restore.records} records  ${rate(scratch.value.restore.records, scratch.ms)}` +
            `  = ${((raw.ms / scratch.ms) * 100).toFixed(0)}% of readToEnd's speed, ${((rawSameFetch.ms / scratch.ms) * 100).toFixed(0)}% of the same reader's; ${stored} keys; RSS ${mb(rssBefore)} → ${mb(rssAfter)} MB; load ${loadavg()[0]?.toFixed(1)}${spent}`,
        );
      }
    }

    const checked = await timed(async () => inspectStore(join(dir, 'p0'), true));
    if (checked.value.kind !== 'present') throw new Error(`quick_check found the store ${checked.value.kind}`);

    await produce(topic, size, DELTA, 2);
    const delta = await timed(() => openAndRestore(kafka, join(dir, 'p0'), identity, { decode }));
    if (delta.value.kind !== 'ready') throw new Error(delta.value.message);
    delta.value.store.close();
    const nothing = await timed(() => openAndRestore(kafka, join(dir, 'p0'), identity, { decode }));
    if (nothing.value.kind !== 'ready') throw new Error(nothing.value.message);
    nothing.value.store.close();

    console.log(`  open with quick_check (every page read)    ${(checked.ms / 1000).toFixed(2)} s`);
    console.log(`  restore after a clean stop, ${DELTA} new        ${(delta.ms / 1000).toFixed(2)} s  ${delta.value.restore.records} records read (from offset ${delta.value.restore.from})`);
    console.log(`  load average (1 min): ${loadavg()[0]?.toFixed(1)}`);
    console.log(`  restore after a clean stop, nothing new    ${(nothing.ms / 1000).toFixed(2)} s  ${nothing.value.restore.records} records read`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
}

async function main(): Promise<void> {
  console.log(`state restore bench: sizes ${SIZES.join(', ')}, delta ${DELTA}, node ${process.version}`);
  for (const size of SIZES) await benchSize(size);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
