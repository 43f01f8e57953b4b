import type { DeadLetter } from '../../../../infra/consuming/dead-letters';
import type { DecodedRecord } from '../../../../infra/consuming/batch-sink';
import { parkBatch, type ParkingContext, type ParkingPart } from '../../../../infra/stateful/round-parking';
import { byParking, defaultProcessIdOfKey, groupParked, parkedKeyOf, summaryOf, type ParkedInput } from '../../../../infra/stateful/parking';

const ctx: ParkingContext = {
  spec: {},
  logical: 'restaurant.order-fulfilment.parked',
  physical: 'restaurant.order-fulfilment.parked',
  partitions: 6,
  actions: { logical: 'restaurant.dead-letter-actions', physical: 'restaurant.dead-letter-actions', partitions: 6 },
  groupId: 'g',
  clock: () => 1_000,
};

const record = (topic: string, offset: number, key: string, type = 'OrderConfirmed'): DecodedRecord => ({
  topic,
  partition: 0,
  offset,
  key: Buffer.from(key),
  rawValue: Buffer.from([0, 0, 0, 0, 1]),
  headers: { 'event-type': type },
  type,
  fullName: `restaurant.order.${type}`,
  value: {},
});
const letter = (topic: string, offset: number, key: string | null): DeadLetter => ({
  topic,
  partition: 0,
  offset,
  key: key === null ? null : Buffer.from(key),
  value: Buffer.from('garbage'),
  headers: { 'event-type': 'PaymentAuthorized' },
  reason: 'not-avro',
  error: 'unknown magic byte',
});

function part(committed: ReadonlyMap<string, readonly ParkedInput[]> = new Map()): ParkingPart {
  const parked = new Map<string, readonly ParkedInput[] | null>();
  return { parked, park: [], unpark: [], requests: [], answers: [], parkedOf: (id) => (parked.has(id) ? (parked.get(id) ?? undefined) : committed.get(id)) };
}

describe('parking a batch', () => {
  it('parks the process of a dead letter, and its later records behind it; other processes and earlier records are decided', () => {
    const p = part();
    const live = parkBatch(ctx, [record('orders', 3, 'o-1/4'), record('orders', 7, 'o-1/6'), record('orders', 8, 'o-2/4')], [letter('orders', 5, 'o-1/5')], p);
    expect(live.map((r) => r.offset)).toEqual([3, 8]);
    expect(p.park.map((x) => [x.processId, x.role, x.offset, x.reason])).toEqual([
      ['o-1', 'head', 5, 'not-avro'],
      ['o-1', 'behind', 7, 'not-avro'],
    ]);
    expect(p.parked.get('o-1')).toHaveLength(2);
  });

  it('parks records of a process parked before, from any topic, and nothing twice', () => {
    const head: ParkedInput = { processId: 'o-1', role: 'head', reason: 'processing-failed', error: 'boom', topic: 'payments', partition: 0, offset: 9, type: 'PaymentAuthorized', key: null, value: null, headers: {}, parkedAt: 1 };
    const behind: ParkedInput = { ...head, role: 'behind', topic: 'orders', offset: 4 };
    const p = part(new Map([['o-1', [head, behind]]]));
    const live = parkBatch(ctx, [record('orders', 4, 'o-1/6'), record('orders', 5, 'o-1/7'), record('payments', 8, 'o-1/1')], [], p);
    // offset 8 of the head's own partition was read before the head: decided.
    expect(live.map((r) => `${r.topic}@${r.offset}`)).toEqual(['payments@8']);
    expect(p.park.map((x) => `${x.topic}@${x.offset}:${x.role}:${x.reason}`)).toEqual(['orders@5:behind:processing-failed']);
  });

  it('with refuseBehind, answers a record behind the head instead of parking it (commands: their clients wait), given the process state', () => {
    const refusing: ParkingContext = {
      ...ctx,
      spec: {
        refuseBehind: (r, parked, state) => [{ topic: 'replies', key: r.key?.toString() ?? '', partitionKey: parked.processId, recordName: 'restaurant.common.CommandReply', value: { why: parked.reason, state }, id: `refused-${r.offset}`, type: 'CommandReply', headers: {} }],
      },
    };
    const p = part();
    const live = parkBatch(refusing, [record('commands', 6, 'o-1'), record('commands', 7, 'o-2')], [letter('commands', 5, 'o-1')], p, (id) => (id === 'o-1' ? { version: 3 } : undefined));
    expect(live.map((r) => r.offset)).toEqual([7]);
    expect(p.park.map((x) => [x.processId, x.role, x.offset])).toEqual([['o-1', 'head', 5]]);
    expect(p.answers.map((a) => [a.id, a.partitionKey, a.value])).toEqual([['refused-6', 'o-1', { why: 'not-avro', state: { version: 3 } }]]);
  });

  it('leaves a dead letter without a key in the DLQ only', () => {
    const p = part();
    expect(parkBatch(ctx, [record('orders', 2, 'o-3/4')], [letter('orders', 1, null)], p)).toHaveLength(1);
    expect(p.park).toEqual([]);
  });
});

describe('parked records', () => {
  it('names the process by the event key, else the key', () => {
    expect(defaultProcessIdOfKey('o-1/12')).toBe('o-1');
    expect(defaultProcessIdOfKey('pay/o-1/3')).toBe('pay/o-1');
    expect(defaultProcessIdOfKey('o-1')).toBe('o-1');
    expect(defaultProcessIdOfKey('')).toBeUndefined();
  });

  it('groups the latest per key by process, head first, and summarises why', () => {
    const base: ParkedInput = { processId: 'o-1', role: 'behind', reason: 'processing-failed', error: 'boom', topic: 'orders', partition: 1, offset: 6, type: 'OrderConfirmed', key: null, value: null, headers: {}, parkedAt: 2 };
    const head: ParkedInput = { ...base, role: 'head', topic: 'payments', offset: 9, type: 'PaymentAuthorized', parkedAt: 2 };
    const later: ParkedInput = { ...base, offset: 7, parkedAt: 3 };
    const other: ParkedInput = { ...base, processId: 'o-2', role: 'head' };
    const grouped = groupParked(new Map([later, base, head, other].map((x) => [parkedKeyOf(x), x])));
    expect(grouped.get('o-1')?.map((x) => `${x.topic}@${x.offset}`)).toEqual(['payments@9', 'orders@6', 'orders@7']);
    expect(summaryOf(grouped.get('o-1') ?? [])).toEqual({ processId: 'o-1', reason: 'processing-failed', error: 'boom', head: 'payments:1:9', headType: 'PaymentAuthorized', inputs: 3, parkedAt: 2 });
    expect([later, head].sort(byParking)[0]).toBe(head);
  });
});
