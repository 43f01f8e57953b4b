// The position stores of the stateful runtime (infra/stateful/position-store.ts, docs/stateful-runtime.md "Positions"):
// what a round's transaction carries, what is read back on assignment, and checkpoint rows kept apart from the states.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Admin } from 'kafkajs';
import type { AvroCodec, Decoded } from '../../../../infra/kafka/codec';
import { StateStore } from '../../../../infra/state/state-store';
import type { StatefulDefinition } from '../../../../infra/stateful/definition';
import { PartitionState } from '../../../../infra/stateful/partition-state';
import { CHECKPOINT_RECORD, checkpointKeyOf, checkpointRows, isCheckpointKey, positionStore, type PositionContext } from '../../../../infra/stateful/position-store';

// Stand-ins for the registry-backed codec and the admin client: JSON with the record's name, and fixed group offsets.
const codec: Pick<AvroCodec, 'encode' | 'decode'> = {
  encode: (_topic: string, fullName: string, value: unknown) => Promise.resolve(Buffer.from(JSON.stringify({ fullName, value }))),
  decode: (bytes: Buffer | null) => Promise.resolve({ ...(JSON.parse(String(bytes)) as Omit<Decoded, 'schemaId'>), schemaId: 1 }),
};
const groupAt = (offsets: Record<string, number>): (() => Pick<Admin, 'fetchOffsets'>) => () => ({
  fetchOffsets: (() =>
    Promise.resolve(Object.entries(offsets).map(([topic, offset]) => ({ topic, partitions: [{ partition: 2, offset: String(offset), metadata: null }] })))) as unknown as Admin['fetchOffsets'],
});
const context = (mode: PositionContext['mode'], group: Record<string, number> = {}): PositionContext => ({
  mode,
  admin: groupAt(group),
  codec,
  groupId: 'g',
  inputs: ['in.a', 'in.b'],
  changelog: 'restaurant.order-fulfilment.changelog',
  foldVersion: 3,
});

let dir: string;
beforeEach(() => (dir = join(mkdtempSync(join(tmpdir(), 'position-store-test-')), 'p2')));
afterEach(() => rmSync(join(dir, '..'), { recursive: true, force: true }));
const identity = { topic: 'c', partition: 2, epoch: '1', foldVersion: 3 };

describe('position stores', () => {
  it('keys checkpoints by group and input topic, apart from every process id', () => {
    expect(checkpointKeyOf('g', 'in.a')).toBe('@checkpoint/g/in.a');
    expect(isCheckpointKey(checkpointKeyOf('g', 'in.a'))).toBe(true);
    expect(isCheckpointKey('order-1')).toBe(false);
  });

  it("'group': the offsets go with sendOffsets, nothing in the changelog; read from the group", async () => {
    const store = positionStore(context('group', { 'in.a': 7 }));
    expect(await store.write(2, new Map([['in.a', 9]]), 0)).toEqual({ records: [], sendOffsets: true });
    const read = await store.read([{ partition: 2, store: { getEntry: () => undefined } }]);
    expect(read.get(2)).toEqual(new Map([['in.a', 7]]));
  });

  it("'changelog': a CommandCheckpoint per input in the changelog partition, stamped, and no sendOffsets", async () => {
    const written = await positionStore(context('changelog')).write(2, new Map([['in.a', 9], ['in.b', 4]]), 1234);
    expect(written.sendOffsets).toBe(false);
    expect(written.records.map((m) => [m.key, m.partition, m.headers])).toEqual([
      ['@checkpoint/g/in.a', 2, { 'fold-version': '3' }],
      ['@checkpoint/g/in.b', 2, { 'fold-version': '3' }],
    ]);
    expect(await codec.decode(written.records[0]?.value as Buffer)).toMatchObject({
      fullName: CHECKPOINT_RECORD,
      value: { groupId: 'g', commandTopic: 'in.a', partition: 2, nextOffset: 9, committedAt: 1234 },
    });
  });

  it("'changelog': reads the checkpoints the store restored, whatever the group says; the group's offset only for a topic never checkpointed", async () => {
    const store = positionStore(context('changelog', { 'in.a': 50, 'in.b': 3 }));
    const written = await store.write(2, new Map([['in.a', 9]]), 0);
    const entries = new Map(written.records.map((m) => [String(m.key), { value: m.value as Buffer, foldVersion: 3 }]));
    const read = await store.read([{ partition: 2, store: { getEntry: (key: string) => entries.get(key) } }]);
    expect(read.get(2)).toEqual(new Map([['in.a', 9], ['in.b', 3]]));
  });

  it("'changelog' with the group's key: one input's checkpoint under `@checkpoint/<group>` (the processor's), read back only when it names that topic", async () => {
    const ctx: PositionContext = { ...context('changelog', { 'in.a': 50 }), groupKeyed: 'in.a' };
    const written = await positionStore(ctx).write(2, new Map([['in.a', 9], ['in.b', 4]]), 0);
    expect(written.records.map((m) => m.key)).toEqual(['@checkpoint/g', '@checkpoint/g/in.b']);
    const entries = new Map(written.records.map((m) => [String(m.key), { value: m.value as Buffer, foldVersion: 3 }]));
    const read = (e: Map<string, { value: Buffer; foldVersion: number }>) => positionStore(ctx).read([{ partition: 2, store: { getEntry: (key: string) => e.get(key) } }]);
    expect((await read(entries)).get(2)).toEqual(new Map([['in.a', 9], ['in.b', 4]]));
    // The processor's record of another commands topic is not this input's; the topic's own key (an older build's) still counts.
    const other = { value: await codec.encode('c', CHECKPOINT_RECORD, { groupId: 'g', commandTopic: 'in.z', partition: 2, nextOffset: 70, committedAt: 0 }), foldVersion: 3 };
    const perTopic = (await positionStore(context('changelog')).write(2, new Map([['in.a', 30]]), 0)).records[0];
    expect((await read(new Map([['@checkpoint/g', other]]))).get(2)).toEqual(new Map([['in.a', 50]]));
    expect((await read(new Map([['@checkpoint/g', other], ['@checkpoint/g/in.a', { value: perTopic?.value as Buffer, foldVersion: 3 }]]))).get(2)).toEqual(new Map([['in.a', 30]]));
  });

  it('keeps checkpoint rows in the store beside the states without counting them as states or statuses', async () => {
    const definition = { name: 'd', status: (s: { n: number }) => `s${s.n}`, deadlines: () => [] } as unknown as StatefulDefinition<{ n: number }, unknown>;
    const raw = StateStore.create<{ n: number }>(dir, identity, 0, { decode: (b) => JSON.parse(String(b)) as { n: number } });
    const state = new PartitionState(raw, definition);
    const written = await positionStore(context('changelog')).write(2, new Map([['in.a', 9]]), 0);
    state.committed(new Map([['p-1', { state: { n: 1 }, value: Buffer.from('{"n":1}'), before: undefined, trace: {} }]]), 12, checkpointRows(written.records, 3));
    expect(raw.size()).toBe(2);
    expect(raw.reflectsOffset()).toBe(12);
    expect(state.size).toBe(1);
    const again = new PartitionState(raw, definition);
    expect(again.size).toBe(1);
    expect(again.labels).toEqual(new Map([['s1', 1]]));
    raw.close();
  });
});
