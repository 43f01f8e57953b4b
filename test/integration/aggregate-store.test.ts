/**
 * The processor's aggregate store with the real schema registry: snapshots are
 * held as their bytes, decoded on first use, the most recently used kept
 * decoded up to the capacity, and an entry decided in memory wins over the
 * snapshot it came from.
 */
import { aggregateRuntimes } from '../../producers/command-processor/aggregates';
import { AggregateStore } from '../../producers/command-processor/aggregate-store';
import { handleCommand, withReply, type AggregateEntry } from '../../producers/command-processor/handle';
import { AvroCodec } from '../../infra/kafka/codec';
import { testRegistry } from '../support/kafka';

const runtime = aggregateRuntimes({ order: { maxOrderTotalMinor: 100_000 } }).order;
const codec = new AvroCodec(testRegistry());
const NOW = 1_767_225_600_000;

/** An opened order as the processor would hold it after the commit, and its snapshot bytes. */
async function opened(orderId: string, customerId: string): Promise<{ entry: AggregateEntry; snapshot: Buffer }> {
  const handled = handleCommand(runtime, undefined, { type: 'OpenOrder', data: { customerId } }, { commandId: `c-${orderId}`, aggregateId: orderId, correlationId: 'k', issuedAt: NOW, expectedVersion: null, actor: null }, NOW);
  const entry = withReply(handled.entry as AggregateEntry, handled.reply);
  const domain = runtime.toSnapshot(orderId, entry.version, entry.state) as object;
  const snapshot = await codec.encode('restaurant.order.snapshots', runtime.snapshotRecord, { ...domain, recentCommands: entry.recentCommands });
  return { entry, snapshot };
}

describe('the aggregate store', () => {
  it('restores from snapshot bytes, decodes on first use and keeps only the most recently used decoded', async () => {
    const store = new AggregateStore(runtime, codec, 2);
    const orders = await Promise.all(['o-1', 'o-2', 'o-3'].map((id, i) => opened(id, `customer-${i}`)));
    orders.forEach(({ snapshot }, i) => store.restore(`o-${i + 1}`, snapshot));
    expect([store.size, store.decodedSize]).toEqual([3, 0]);

    for (const [i, { entry }] of orders.entries()) expect(await store.get(`o-${i + 1}`)).toEqual(entry);
    expect(store.decodedSize).toBe(2);
    expect(await store.get('o-9')).toBeUndefined();
  });

  it('holds what a transaction decided, and forgets a deleted aggregate', async () => {
    const store = new AggregateStore(runtime, codec, 1);
    const before = await opened('o-1', 'ada');
    store.restore('o-1', before.snapshot);
    const after = await opened('o-1', 'grace');
    store.set('o-1', after.entry, after.snapshot);
    await store.get('o-2'); // nothing there: o-1 stays decoded
    expect(await store.get('o-1')).toEqual(after.entry);
    // Evicted from the decoded ones, it comes back from the new snapshot, not the restored one.
    store.set('o-3', before.entry, before.snapshot);
    expect(store.decodedSize).toBe(1);
    expect(((await store.get('o-1'))?.state as { customerId?: string }).customerId).toBe('grace');
    store.delete('o-1');
    expect(await store.get('o-1')).toBeUndefined();
    expect(store.size).toBe(1);
  });
});
