/**
 * The processor's aggregate store against the real Kafka and registry: a
 * cache on disk of one snapshot partition. Opening it reads the partition
 * (all of it the first time, only the delta afterwards); aggregates are
 * decoded on first use and only the most recently used stay decoded; an
 * aggregate's duplicate memory (its remembered replies) comes back from the
 * store after it was evicted; the group's checkpoint is restored with the
 * state; and snapshots of another fold version are refused.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logLevel } from 'kafkajs';
import { aggregateRuntimes } from '../../producers/command-processor/aggregates';
import { AggregateStore, CHECKPOINT_RECORD, checkpointKey } from '../../producers/command-processor/aggregate-store';
import { handleCommand, withReply, type AggregateEntry } from '../../producers/command-processor/handle';
import { AvroCodec } from '../../infra/kafka/codec';
import { FOLD_VERSION_HEADER } from '../../infra/state/changelog-restore';
import { readStoreMeta } from '../../infra/state/state-store';
import { StaleFoldError } from '../../infra/stateful/partition-state';
import { createTopicsAndWait, testKafka, testRegistry, unique, withAdmin } from '../support/kafka';

jest.setTimeout(120_000);

const runtime = aggregateRuntimes({ order: { maxOrderTotalMinor: 100_000 } }).order;
const kafka = testKafka('it-aggregate-store', logLevel.NOTHING);
const codec = new AvroCodec(testRegistry());
const NOW = 1_767_225_600_000;
const topic = unique('it.order.snapshots');
const group = 'it.command-processor';
const dirs: string[] = [];
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });

/** An opened order as the processor holds it after the commit, and its snapshot bytes. */
async function opened(orderId: string, customerId: string): Promise<{ entry: AggregateEntry; snapshot: Buffer }> {
  const handled = handleCommand(runtime, undefined, { type: 'OpenOrder', data: { customerId } }, { commandId: `c-${orderId}`, aggregateId: orderId, correlationId: 'k', issuedAt: NOW, expectedVersion: null, actor: null }, NOW);
  const entry = withReply(handled.entry as AggregateEntry, handled.reply);
  const domain = runtime.toSnapshot(orderId, entry.version, entry.state) as object;
  const snapshot = await codec.encode('restaurant.order.snapshots', runtime.snapshotRecord, { ...domain, recentCommands: entry.recentCommands });
  return { entry, snapshot };
}

const checkpoint = async (nextOffset: number): Promise<{ key: string; value: Buffer }> => ({
  key: checkpointKey(group),
  value: await codec.encode('restaurant.order.snapshots', CHECKPOINT_RECORD, { groupId: group, commandTopic: 'restaurant.order.commands', partition: 0, nextOffset, committedAt: NOW }),
});

function open(dir: string, fold = runtime, capacity = 2): ReturnType<typeof AggregateStore.open> {
  return AggregateStore.open({ kafka, codec, runtime: fold, dir, topic, partition: 0, epoch: '1', groupId: group, capacity });
}

const newDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'it-aggregate-store-'));
  dirs.push(dir);
  return join(dir, 'p0');
};

beforeAll(async () => {
  await createTopicsAndWait(kafka, [{ topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }]);
  await producer.connect();
  const orders = await Promise.all(['o-1', 'o-2', 'o-3'].map((id, i) => opened(id, `customer-${i}`)));
  const cp = await checkpoint(3);
  await producer.send({
    topic,
    acks: -1,
    messages: [
      // o-1 as written before snapshots were stamped (counts as fold version 1); the others stamped.
      { key: 'o-1', value: orders[0]?.snapshot ?? null },
      ...orders.slice(1).map((o, i) => ({ key: `o-${i + 2}`, value: o.snapshot, headers: { [FOLD_VERSION_HEADER]: '1' } })),
      { key: cp.key, value: cp.value },
    ],
  });
});

afterAll(async () => {
  await producer.disconnect();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  await withAdmin(kafka, (admin) => admin.deleteTopics({ topics: [topic] })).catch(() => undefined);
});

describe('the aggregate store', () => {
  it('restores a snapshot partition onto disk, with its checkpoint, and decodes only the most recently used', async () => {
    const dir = newDir();
    const { store, checkpoint: restored, restore } = await open(dir);
    try {
      expect(restore).toMatchObject({ from: 0, to: 4, records: 4, rebuilt: 'missing' });
      expect(restored).toMatchObject({ groupId: group, commandTopic: 'restaurant.order.commands', nextOffset: 3 });
      expect([store.size, store.decodedSize]).toEqual([3, 0]);
      for (const id of ['o-1', 'o-2', 'o-3']) expect((await store.get(id))?.version).toBe(1);
      expect(store.decodedSize).toBe(2);
      expect(await store.get('o-9')).toBeUndefined();
    } finally {
      store.close();
    }
    expect(readStoreMeta(dir)).toMatchObject({ topic, partition: 0, foldVersion: 1, offset: 4 });
  });

  it('answers a duplicate from the store after the aggregate was evicted, and reads only the delta when opened again', async () => {
    const dir = newDir();
    const first = await open(dir, runtime, 1);
    const o1 = await first.store.get('o-1');
    // Evicted from the decoded ones by o-2 (capacity 1): its reply memory comes from the stored snapshot.
    await first.store.get('o-2');
    expect(first.store.decodedSize).toBe(1);
    const again = handleCommand(runtime, await first.store.get('o-1'), { type: 'OpenOrder', data: { customerId: 'customer-0' } }, { commandId: 'c-o-1', aggregateId: 'o-1', correlationId: 'k', issuedAt: NOW, expectedVersion: null, actor: null }, NOW + 1);
    expect(again.duplicate).toBe(true);
    expect(again.reply).toEqual(o1?.recentCommands[0]);

    // A transaction writes a new aggregate and a checkpoint; the store takes it after the commit.
    const o4 = await opened('o-4', 'customer-4');
    const cp = await checkpoint(4);
    const [sent] = await producer.send({ topic, acks: -1, messages: [{ key: 'o-4', value: o4.snapshot, headers: { [FOLD_VERSION_HEADER]: '1' } }, { key: cp.key, value: cp.value }] });
    first.store.committed(new Map([['o-4', o4]]), cp, Number(sent?.baseOffset) + 2);
    expect(first.store.size).toBe(4);
    first.store.close();

    // A record the store does not have yet (written by someone else), read as the delta.
    const o5 = await opened('o-5', 'customer-5');
    await producer.send({ topic, acks: -1, messages: [{ key: 'o-5', value: o5.snapshot, headers: { [FOLD_VERSION_HEADER]: '1' } }] });
    const second = await open(dir);
    try {
      expect(second.restore).toMatchObject({ from: 6, to: 7, records: 1, rebuilt: undefined });
      expect(second.checkpoint?.nextOffset).toBe(4);
      expect(second.store.size).toBe(5);
      expect((await second.store.get('o-5'))?.recentCommands.map((r) => r.commandId)).toEqual(['c-o-5']);
    } finally {
      second.store.close();
    }
  });

  it('refuses a partition whose snapshots were folded by another fold version, on disk or in the topic, and says what to do', async () => {
    const changed = { ...runtime, foldVersion: 2 };
    const dir = newDir();
    (await open(dir)).store.close();
    // Its store on disk was made by fold version 1.
    await expect(open(dir, changed)).rejects.toThrow(StaleFoldError);
    await expect(open(dir, changed)).rejects.toThrow(/the stored snapshots of .* folded by fold version 1, this build's order fold is version 2.*npm run snapshots:rebuild -- order/);
    expect(readStoreMeta(dir)).toMatchObject({ foldVersion: 1 });
    // No store: rebuilt from the topic, whose snapshots say fold version 1 (stamped or not); refused, and nothing kept.
    const fresh = newDir();
    await expect(open(fresh, changed)).rejects.toThrow(/\d+ snapshot\(s\) of .* folded by fold version 1, this build's order fold is version 2.*npm run snapshots:rebuild -- order/);
    expect(readStoreMeta(fresh)).toBeUndefined();
  });
});
