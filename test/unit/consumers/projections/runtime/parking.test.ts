// The pure parts of parking (docs/read-side.md#parked-aggregates): what a
// parked event records, the guarded write that parks it, reading chains back
// in order, and the arguments of `npm run dlq`.
import { parseDlqArgs } from '../../../../../consumers/projections/redrive/cli-args';
import { ActionInputError } from '../../../../../consumers/projections/redrive/actions';
import type { DecodedRecord } from '../../../../../infra/consuming/batch-sink';
import { byPosition, chainField, parkedAggregateOf, parkedEventOf, parkedEventOfFailed, parkingWrite, parseChain, parseParked, planParking } from '../../../../../consumers/projections/runtime/parking';
import type { DeadLetter } from '../../../../../infra/consuming/dead-letters';
import { encodeBatch } from '../../../../../consumers/projections/runtime/redis-batch';
import { parkedChainKey, parkedKey, parkedVersionKey, versionKey } from '../../../../../consumers/projections/shared/keys';

const record = (offset: number, version: number, type = 'OrderPlaced', aggregateId = 'o-1'): DecodedRecord => ({
  topic: 'restaurant.order.events',
  partition: 2,
  offset,
  key: Buffer.from(`${aggregateId}/${version}`),
  rawValue: Buffer.from([0, 0, 0, 0, 7, offset]),
  headers: { 'event-type': type, 'x-repeated': [Buffer.from('first'), Buffer.from('second')] },
  type,
  fullName: `restaurant.order.${type}`,
  value: { metadata: { eventId: `e-${version}`, aggregateId, version, occurredAt: 1 } },
});

const letter = (offset: number, key: string | null, reason = 'not-avro'): DeadLetter => ({
  topic: 'restaurant.order.events',
  partition: 2,
  offset,
  key: key === null ? null : Buffer.from(key),
  value: Buffer.from('garbage'),
  headers: { 'event-type': 'ItemAddedToOrder' },
  reason,
  error: 'bad bytes',
});

describe('a parked event', () => {
  it('keeps where it was read, its identity and its raw bytes for a redrive', () => {
    const event = parkedEventOf(record(41, 5), 'head', 1_000);
    expect(event).toEqual({
      topic: 'restaurant.order.events',
      partition: 2,
      offset: 41,
      role: 'head',
      aggregateId: 'o-1',
      eventId: 'e-5',
      version: 5,
      type: 'OrderPlaced',
      key: Buffer.from('o-1/5').toString('base64'),
      value: Buffer.from([0, 0, 0, 0, 7, 41]).toString('base64'),
      headers: { 'event-type': 'OrderPlaced', 'x-repeated': 'first' },
      parkedAt: 1_000,
    });
    expect(Buffer.from(event.value, 'base64')).toEqual(record(41, 5).rawValue);
  });

  it('parks its aggregate with the reason, a bounded error and the head', () => {
    const head = parkedEventOf(record(41, 5), 'head', 1_000);
    const parked = parkedAggregateOf(head, 'processing-failed', 'x'.repeat(5_000));
    expect(parked).toMatchObject({ aggregateId: 'o-1', reason: 'processing-failed', parkedAt: 1_000, head: { offset: 41, version: 5, eventId: 'e-5', type: 'OrderPlaced' } });
    expect(parked.error).toHaveLength(2_000);
  });

  it('is written under its own version guard (parked-v), never the read model version', () => {
    const event = parkedEventOf(record(42, 6, 'OrderConfirmed'), 'behind', 1_000);
    const write = parkingWrite('live', 'orders', event, '{"summary":1}');
    expect(write.versionKey).toBe(parkedVersionKey('live', 'orders', 'o-1'));
    expect(write.versionKey).not.toBe(versionKey('live', 'orders', 'o-1'));
    expect(write.version).toBe(6);
    expect(write.ops).toEqual([
      { op: 'hset', key: parkedChainKey('live', 'orders', 'o-1'), fields: { 'restaurant.order.events:2:42': JSON.stringify(event) } },
      { op: 'hset', key: parkedKey('live', 'orders'), fields: { 'o-1': '{"summary":1}' } },
    ]);
    // Parking writes encode with the batch (same script, same call as the checkpoint).
    expect(() => encodeBatch('live', 'orders', [write], new Map())).not.toThrow();
  });
});

describe('planning a batch\'s parking', () => {
  it('parks a failed record\'s aggregate: its later records are parked behind it, earlier ones and other aggregates applied', () => {
    const head = record(10, 5);
    const plan = planParking([record(9, 4), record(11, 6), record(12, 1, 'OrderOpened', 'o-2')], [{ record: head, letter: letter(10, 'o-1/5', 'processing-failed') }], new Map(), 7);
    expect(plan.live.map((r) => r.offset)).toEqual([9, 12]);
    expect(plan.park.map((p) => [p.event.offset, p.event.role])).toEqual([
      [10, 'head'],
      [11, 'behind'],
    ]);
    expect(JSON.parse(plan.park[1]?.summary ?? '')).toMatchObject({ aggregateId: 'o-1', reason: 'processing-failed', head: { offset: 10, version: 5 } });
  });

  it('parks an undecodable message by the aggregate its key names, and not at all when the key names none', () => {
    const plan = planParking([record(11, 4)], [{ letter: letter(10, 'o-1/3') }, { letter: letter(12, 'not-an-event-key') }, { letter: letter(13, null) }], new Map(), 7);
    expect(plan.live).toEqual([]);
    expect(plan.park.map((p) => [p.event.offset, p.event.role, p.event.version, p.event.eventId, p.event.type])).toEqual([
      [10, 'head', 3, '', 'ItemAddedToOrder'],
      [11, 'behind', 4, 'e-4', 'OrderPlaced'],
    ]);
    expect(parkedEventOfFailed({ letter: letter(12, 'o-1/x') }, 'head', 1)).toBeUndefined();
  });

  it('parks the records of an aggregate parked before the batch that come after its head; a second failure of it goes behind', () => {
    const summary = JSON.stringify(parkedAggregateOf(parkedEventOf(record(10, 5), 'head', 1), 'processing-failed', 'boom'));
    const plan = planParking([record(8, 3), record(14, 7)], [{ letter: letter(13, 'o-1/6') }], new Map([['o-1', summary]]), 7);
    expect(plan.live.map((r) => r.offset)).toEqual([8]); // a redelivery from before the head: the guard decides
    expect(plan.park.map((p) => [p.event.offset, p.event.role, p.summary === summary])).toEqual([
      [13, 'behind', true],
      [14, 'behind', true],
    ]);
  });
});

describe('reading parked state back', () => {
  it('orders a chain as it was read, whatever the hash order, and leaves out what is not JSON', () => {
    const events = [parkedEventOf(record(12, 7), 'behind', 1), parkedEventOf(record(9, 5), 'head', 1), parkedEventOf(record(10, 6), 'behind', 1)];
    const hash = Object.fromEntries([...events.map((e) => [chainField(e), JSON.stringify(e)]), ['junk', 'not json']]);
    expect(parseChain(hash).map((e) => e.offset)).toEqual([9, 10, 12]);
  });

  it('orders positions by topic, then partition, then offset', () => {
    const at = (topic: string, partition: number, offset: number) => ({ topic, partition, offset });
    expect([at('b', 0, 1), at('a', 1, 0), at('a', 0, 5), at('a', 0, 3)].sort(byPosition)).toEqual([at('a', 0, 3), at('a', 0, 5), at('a', 1, 0), at('b', 0, 1)]);
  });

  it('lists parked aggregates oldest first', () => {
    const a = parkedAggregateOf(parkedEventOf(record(1, 1), 'head', 200), 'processing-failed', 'boom');
    const b = { ...a, aggregateId: 'o-2', parkedAt: 100 };
    expect(parseParked({ 'o-1': JSON.stringify(a), 'o-2': JSON.stringify(b), bad: '{' }).map((p) => p.aggregateId)).toEqual(['o-2', 'o-1']);
  });
});

describe('npm run dlq arguments', () => {
  const parse = (...argv: string[]) => parseDlqArgs(argv, {}, 'alice');

  it('reads each command', () => {
    expect(parse('list')).toMatchObject({ command: 'list', models: ['menu', 'customers', 'orders', 'kitchen', 'sales', 'order-fulfilment', 'loyalty', 'payment-simulator', 'customer-commands', 'email-reservation-commands', 'menu-commands', 'order-commands'], base: 'live', keyspace: undefined });
    // A process manager by name or by consumer group.
    expect(parse('show', '--model', 'restaurant.process-manager.order-fulfilment', '--aggregate', 'o-1')).toMatchObject({ command: 'show', model: 'order-fulfilment', aggregateId: 'o-1' });
    expect(parse('redrive', '--model', 'loyalty', '--aggregate', 'o-1', '--why', 'fixed')).toMatchObject({ model: 'loyalty', selection: { aggregateId: 'o-1' } });
    expect(parse('show', '--model', 'orders', '--aggregate', 'o-1')).toMatchObject({ command: 'show', model: 'orders', aggregateId: 'o-1' });
    // The command processor's parked aggregates of one type.
    expect(parse('skip', '--model', 'order-commands', '--aggregate', 'o-1', '--why', 'garbage')).toMatchObject({ command: 'skip', model: 'order-commands', aggregateId: 'o-1' });
    expect(() => parse('show', '--model', 'payment-commands', '--aggregate', 'p-1')).toThrow(ActionInputError);
    expect(parse('redrive', '--model', 'orders', '--reason', 'processing-failed', '--why', 'fixed in 1.4')).toMatchObject({ selection: { reason: 'processing-failed' }, actor: 'alice', why: 'fixed in 1.4' });
    expect(parse('redrive', '--model', 'sales', '--all', '--actor', 'bob')).toMatchObject({ model: 'sales', selection: { all: true }, actor: 'bob' });
    expect(parse('skip', '--model', 'orders', '--aggregate', 'o-1', '--event', 'restaurant.order.events:2:41', '--why', 'duplicate')).toMatchObject({ event: 'restaurant.order.events:2:41', why: 'duplicate' });
    expect(parseDlqArgs(['list', '--keyspace', 'live-g2'], { READ_MODEL_KEYSPACE: 'shop' }, 'alice')).toMatchObject({ base: 'shop', keyspace: 'live-g2' });
  });

  it.each([
    [[], 'name one command'],
    [['purge'], 'unknown command'],
    [['show', '--aggregate', 'o-1'], '--model is required'],
    [['show', '--model', 'invoices', '--aggregate', 'o-1'], 'unknown read model'],
    [['redrive', '--model', 'orders'], 'exactly one of'],
    [['redrive', '--model', 'orders', '--all', '--aggregate', 'o-1'], 'exactly one of'],
    [['skip', '--model', 'orders', '--aggregate', 'o-1'], 'needs a reason'],
    [['skip', '--model', 'orders', '--aggregate', 'o-1', '--why', ' '], 'needs a reason'],
    [['skip', '--model', 'orders', '--aggregate', 'o-1', '--why', 'x', '--event', '41'], 'is not <topic>:<partition>:<offset>'],
    [['list', '--keyspace', 'Bad Space'], 'keyspace'],
    [['list', '--bogus'], 'Unknown option'],
  ])('refuses %j', (argv, message) => {
    expect(() => parse(...argv)).toThrow(ActionInputError);
    expect(() => parse(...argv)).toThrow(message);
  });
});
