// projectBatch: a partition batch's events through a projection, as the Redis
// sink runs it (and the replay bench's stages), without Redis.
import type { DecodedRecord } from '../../../../../infra/consuming/batch-sink';
import { ProcessingError } from '../../../../../infra/consuming/batch-sink';
import { envelopesOf, projectBatch, type AggregateState } from '../../../../../consumers/projections/runtime/projector';
import { READ_MODEL_SPECS } from '../../../../../consumers/projections/runtime/read-models';
import { versionKey } from '../../../../../consumers/projections/shared/keys';
import { ordersKeys } from '../../../../../consumers/projections/orders/orders.keys';
import type { OrderDocument } from '../../../../../consumers/projections/orders/orders.projection';
import { line, money, orderHistory } from '../../../../support/order-histories';
import { KS, MINUTE, T0 } from '../../../../support/projection-spec';

/** Decoded records as the EventConsumer hands them over: the payload with its metadata in one value. */
function records(envelopes: ReturnType<typeof orderHistory>, firstOffset = 0): DecodedRecord[] {
  return envelopes.map(({ event, metadata }, i) => ({
    topic: 'restaurant.order.events',
    partition: 0,
    offset: firstOffset + i,
    key: null,
    rawValue: null,
    headers: undefined,
    type: event.type,
    fullName: `restaurant.order.${event.type}`,
    value: { ...event.data, metadata },
  }));
}

const pizza = line('m-pizza', 'Margherita', 2, money(950));
const placed = orderHistory({ orderId: 'o-1', customerId: 'c-1', lines: [pizza], openedAt: T0, at: { placed: T0 + MINUTE, confirmed: T0 + 2 * MINUTE } });
const spec = READ_MODEL_SPECS.orders;

describe('projectBatch', () => {
  it('splits each record into event and metadata', () => {
    const [first] = envelopesOf(records(placed));
    expect(first).toEqual({ event: { type: 'OrderOpened', data: { customerId: 'c-1' } }, metadata: placed[0]?.metadata, offset: 0 });
  });

  it('threads a stateful model through the batch in memory, one guarded write per event, and leaves the state after it', () => {
    const current = new Map<string, AggregateState>();
    const { writes, preSkipped } = projectBatch(spec, KS, envelopesOf(records(placed)), current);
    expect(preSkipped).toBe(0);
    expect(writes.map((w) => [w.versionKey, w.version])).toEqual(placed.map((e) => [versionKey(KS, 'orders', 'o-1'), e.metadata.version]));
    const state = current.get('o-1')?.state as OrderDocument;
    expect(state.status).toBe('CONFIRMED');
    expect(state.timeline.map((t) => t.step)).toEqual(['opened', 'placed', 'confirmed']);
    expect(current.get('o-1')?.version).toBe(placed.length);
    // the last write of the batch carries the final document
    expect(writes.at(-1)?.ops[0]).toEqual({ op: 'setJson', key: ordersKeys(KS).order('o-1'), value: state });
  });

  it('leaves out events not newer than the version read before the batch, and keeps that state', () => {
    const current = new Map<string, AggregateState>();
    projectBatch(spec, KS, envelopesOf(records(placed.slice(0, 3))), current);
    const before = current.get('o-1')?.state;
    const again = projectBatch(spec, KS, envelopesOf(records(placed)), current);
    expect(again.preSkipped).toBe(3);
    expect(again.writes.map((w) => w.version)).toEqual(placed.slice(3).map((e) => e.metadata.version));
    expect(before).not.toBe(current.get('o-1')?.state);
  });

  it('projects a stateless model without state', () => {
    const menu = READ_MODEL_SPECS.menu;
    const metadata = { ...placed[0]!.metadata, aggregateId: 'm-1', version: 1 };
    const record: DecodedRecord = { ...records(placed)[0]!, type: 'MenuItemSoldOut', value: { metadata } };
    const { writes } = projectBatch(menu, KS, envelopesOf([record]), undefined);
    expect(writes).toHaveLength(1);
    expect(writes[0]?.ops[0]).toMatchObject({ op: 'hset', fields: { availability: 'SOLD_OUT' } });
  });

  it('names the event a projection fails on', () => {
    const broken: DecodedRecord = { ...records(placed)[1]!, type: 'ItemAddedToOrder', value: { metadata: { ...placed[0]!.metadata, version: 2 } } };
    const opened = records(placed)[0]!;
    expect(() => projectBatch(spec, KS, envelopesOf([opened, broken]), new Map())).toThrow(ProcessingError);
    expect(() => projectBatch(spec, KS, envelopesOf([opened, broken]), new Map())).toThrow('orders could not project ItemAddedToOrder o-1@2 (offset 1)');
  });
});
