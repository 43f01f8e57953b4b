// Sequenced outputs (infra/stateful/emit-offsets.ts, sequenced-round.ts; docs/stateful-runtime.md
// "Sequenced outputs") against a small model of a partition log: offsets taken by records and by each
// transaction's commit or abort marker. Learned first, then predicted in one pass, a miss aborted and written again.
import type { Message, Producer, RecordMetadata } from 'kafkajs';
import type { AvroCodec } from '../../../../infra/kafka/codec';
import type { TopicCatalog } from '../../../../schemas/topics';
import type { EmittedOffset, Outgoing } from '../../../../infra/stateful/definition';
import { completeRound } from '../../../../infra/stateful/complete-round';
import { DEFERRED_STATE_VALUE, emptyRound, type Round } from '../../../../infra/stateful/round';
import { sequencedRound, sequencingOf, type Sequencing } from '../../../../infra/stateful/sequenced-round';
import { zeroCounts } from '../../../../infra/stateful/task';

/** Partition logs: each batch sent takes its records' offsets, each commit or abort one more per partition it touched. */
class Logs {
  readonly ends = new Map<string, number>();
  readonly committed: Array<{ readonly topic: string; readonly offset: number; readonly message: Message }> = [];
  /** Per transaction, the topic of each produce request, in order. */
  readonly requests: string[][] = [];

  producer(): Producer {
    const transaction = (): unknown => {
      const touched = new Set<string>();
      const pending: Array<{ topic: string; offset: number; message: Message }> = [];
      const end = (aborted: boolean): Promise<void> => {
        for (const key of touched) this.ends.set(key, (this.ends.get(key) ?? 0) + 1);
        if (!aborted) this.committed.push(...pending);
        return Promise.resolve();
      };
      return Promise.resolve({
        sendBatch: ({ topicMessages }: { topicMessages: Array<{ topic: string; messages: Message[] }> }): Promise<RecordMetadata[]> => {
          const [{ topic, messages }] = topicMessages as [{ topic: string; messages: Message[] }];
          const key = `${topic}:${String(messages[0]?.partition)}`;
          touched.add(key);
          const base = this.ends.get(key) ?? 0;
          messages.forEach((message, i) => pending.push({ topic, offset: base + i, message }));
          this.ends.set(key, base + messages.length);
          this.requests.at(-1)?.push(topic);
          return Promise.resolve([{ topicName: topic, partition: messages[0]?.partition ?? 0, errorCode: 0, baseOffset: String(base) }]);
        },
        sendOffsets: () => Promise.resolve(),
        commit: () => end(false),
        abort: () => end(true),
      });
    };
    return { transaction: () => (this.requests.push([]), transaction()) } as unknown as Producer;
  }

  /** A record written by someone else. */
  foreign(topic: string, partition: number): void {
    const key = `${topic}:${partition}`;
    this.ends.set(key, (this.ends.get(key) ?? 0) + 1);
  }
}

const codec = { encode: (_t: string, _n: string, value: unknown) => Promise.resolve(Buffer.from(JSON.stringify(value))) } as unknown as AvroCodec;
const catalog = { topic: () => ({ partitions: 4 }) } as unknown as TopicCatalog;
const where = { groupId: 'g', partition: 2, changelog: 'changelog' };
const encode = (value: unknown): Promise<Buffer> => Promise.resolve(Buffer.from(JSON.stringify(value)));

/** A round that emits `n` events to the sequenced topic and an acknowledgement per event carrying its offset. */
let events = 0;
function roundOf(n: number): Round<unknown> {
  const round = emptyRound<unknown>();
  const refs = Array.from({ length: n }, () => {
    const id = `e${(events += 1)}`;
    const message: Message = { key: id, value: Buffer.from('event'), partition: 2 };
    round.emit.push({ topic: 'events', type: 'Event', message });
    return { message, topic: 'events', physical: 'events', id };
  });
  const ack = (at: EmittedOffset): Outgoing => ({ topic: 'replies', key: at.id, partitionKey: at.id, recordName: 'Ack', value: { id: at.id, offset: at.offset }, id: `ack-${at.id}`, type: 'Ack', headers: {} });
  round.late.push({ processId: 'p', state: null, encodeState: encode, after: (offsets) => offsets.map(ack), trace: {}, refs });
  return round;
}

/** Every acknowledgement committed names the offset its event was committed at. */
function acknowledgedRight(logs: Logs): void {
  const events = new Map(logs.committed.filter((r) => r.topic === 'events').map((r) => [String(r.message.key), r.offset]));
  const acks = logs.committed.filter((r) => r.topic === 'replies').map((r) => JSON.parse(String(r.message.value)) as { id: string; offset: number });
  expect(acks.length).toBe(events.size);
  for (const ack of acks) expect(ack.offset).toBe(events.get(ack.id));
}

describe('sequenced rounds', () => {
  it('has no sequencing without sequenced topics', () => {
    expect(sequencingOf({}, { codec, catalog, physical: (t) => t })).toEqual({});
  });

  it('learns first, then predicts past the commit marker, and writes a missed guess again', async () => {
    const logs = new Logs();
    const sequencing = sequencingOf({ sequenced: ['events'] }, { codec, catalog, physical: (t) => t }).sequencing as Sequencing;
    const task = { producer: logs.producer() };
    const counts = zeroCounts();
    const positions = { records: [], sendOffsets: false };
    logs.foreign('events', 2); // the partition does not start at 0

    // No prediction yet: the events go in a request of their own first.
    await sequencedRound(sequencing, task, where, roundOf(3), new Map(), positions, counts);
    expect(logs.requests.at(-1)?.[0]).toBe('events');
    expect(logs.requests.at(-1)?.slice(1).every((topic) => topic === 'replies')).toBe(true);
    expect(counts).toMatchObject({ offsetsPredicted: 0, offsetGuessesMissed: 0 });

    // Predicted (1 + 3 records + the marker): one pass, right.
    await sequencedRound(sequencing, task, where, roundOf(2), new Map(), positions, counts);
    expect(counts).toMatchObject({ offsetsPredicted: 1, offsetGuessesMissed: 0 });
    expect(logs.requests).toHaveLength(2);
    acknowledgedRight(logs);

    // Another writer: the guess misses, the transaction is aborted and written again, learning.
    logs.foreign('events', 2);
    await sequencedRound(sequencing, task, where, roundOf(2), new Map(), positions, counts);
    expect(counts).toMatchObject({ offsetsPredicted: 1, offsetGuessesMissed: 1 });
    expect(logs.requests).toHaveLength(4);
    acknowledgedRight(logs);

    // And predicted again after it.
    await sequencedRound(sequencing, task, where, roundOf(1), new Map(), positions, counts);
    expect(counts).toMatchObject({ offsetsPredicted: 2, offsetGuessesMissed: 1 });
    acknowledgedRight(logs);
  });
});

/** A process's memory of its requests: request id -> the offset it landed at (-1 until known). */
type Memory = Readonly<Record<string, number>>;

/** Sends `ids` as events of process `p` (state: its memory), remembering them at -1 and completing them with their offsets. */
function rememberingRound(p: string, before: Memory, ids: readonly string[], round = emptyRound<Memory>()): Round<Memory> {
  const refs = ids.map((id) => {
    const message: Message = { key: id, value: Buffer.from('event'), partition: 2 };
    round.emit.push({ topic: 'events', type: 'Event', message });
    return { message, topic: 'events', physical: 'events', id };
  });
  const state: Memory = { ...(round.states.get(p)?.state ?? before), ...Object.fromEntries(ids.map((id) => [id, -1])) };
  round.states.set(p, { state, trace: {}, record: { key: p, value: Buffer.from(JSON.stringify(state)), partition: 2, headers: { 'fold-version': '1' } } });
  const complete = (s: Memory, offsets: readonly EmittedOffset[]): Memory => ({ ...s, ...Object.fromEntries(offsets.map((o) => [o.id, o.offset])) });
  round.late.push({ processId: p, state, encodeState: encode, complete, trace: {}, refs });
  return round;
}

/** The last committed changelog record of each process, decoded. */
function changelogOf(logs: Logs): Map<string, Memory> {
  return new Map(logs.committed.filter((r) => r.topic === 'changelog').map((r) => [String(r.message.key), JSON.parse(String(r.message.value)) as Memory]));
}

/** Every request remembered in the changelog names the offset its event was committed at. */
function rememberedRight(logs: Logs, expected: number): void {
  const events = new Map(logs.committed.filter((r) => r.topic === 'events').map((r) => [String(r.message.key), r.offset]));
  const remembered = [...changelogOf(logs).values()].flatMap((m) => Object.entries(m));
  expect(remembered).toHaveLength(expected);
  for (const [id, offset] of remembered) expect(offset).toBe(events.get(id));
}

describe('states completed with the offsets', () => {
  const offsetOf = (base: number) => (_physical: string, message: Message): number => base + Number(String(message.key).slice(1));

  it('patches the state as the round leaves it, in decision order; a later after sees the earlier completions', () => {
    const seen: Memory[] = [];
    const first = rememberingRound('p', {}, ['r0']);
    const round = rememberingRound('p', {}, ['r1'], first);
    // A duplicate of r0 in the same round: answered from the state completed so far.
    round.late.push({ processId: 'p', state: round.states.get('p')?.state ?? {}, encodeState: encode, after: (_offsets, state) => (seen.push(state), []), trace: {}, refs: [] });
    const done = completeRound(round.late, 2, offsetOf(10), (id) => round.states.get(id)?.state);
    expect(done.states.get('p')).toEqual({ r0: 10, r1: 11 });
    expect(seen).toEqual([{ r0: 10, r1: 11 }]);
    // Pure: the round keeps the states as decided, for a missed guess to complete again.
    expect(round.states.get('p')?.state).toEqual({ r0: -1, r1: -1 });
    expect(completeRound(round.late, 2, offsetOf(20), (id) => round.states.get(id)?.state).states.get('p')).toEqual({ r0: 20, r1: 21 });
  });

  it('writes the completed state to the changelog, predicted or learned again after a miss, and hands it to the store', async () => {
    const logs = new Logs();
    const sequencing = sequencingOf({ sequenced: ['events'] }, { codec, catalog, physical: (t) => t }).sequencing as Sequencing;
    const task = { producer: logs.producer() };
    const counts = zeroCounts();
    const positions = { records: [], sendOffsets: false };
    logs.foreign('events', 2);
    let memory: Memory = {};
    const roundOfIds = async (ids: readonly string[]): Promise<void> => {
      const round = rememberingRound('p', memory, ids);
      await sequencedRound(sequencing, task, where, round, new Map(), positions, counts);
      memory = round.states.get('p')?.state ?? {};
      // What the store gets is what the changelog has.
      expect(memory).toEqual(changelogOf(logs).get('p'));
    };

    await roundOfIds(['a0', 'a1']); // learned
    await roundOfIds(['b0']); // predicted
    expect(counts).toMatchObject({ offsetsPredicted: 1, offsetGuessesMissed: 0 });
    rememberedRight(logs, 3);
    logs.foreign('events', 2);
    await roundOfIds(['c0', 'c1']); // missed, completed again with the offsets learned
    expect(counts).toMatchObject({ offsetGuessesMissed: 1 });
    rememberedRight(logs, 5);
    expect(Object.values(memory).every((offset) => offset >= 0)).toBe(true);
  });

  it('encodes a state whose value waited for its completion once, completed; refuses to write one never completed', async () => {
    const logs = new Logs();
    const sequencing = sequencingOf({ sequenced: ['events'] }, { codec, catalog, physical: (t) => t }).sequencing as Sequencing;
    const task = { producer: logs.producer() };
    const positions = { records: [], sendOffsets: false };
    // As round.ts decides it: the completed state's record has no value until the transaction completes it.
    const round = rememberingRound('p', {}, ['d0']);
    const decided = round.states.get('p');
    if (decided === undefined) throw new Error('no state decided');
    round.states.set('p', { ...decided, record: { ...decided.record, value: DEFERRED_STATE_VALUE } });
    const committed = await sequencedRound(sequencing, task, where, round, new Map(), positions, zeroCounts());
    expect(changelogOf(logs).get('p')).toEqual({ d0: 0 });
    expect(committed.states.get('p')?.record.value).not.toBe(DEFERRED_STATE_VALUE);

    // A deferred value nothing completes: the transaction is refused before anything is sent or committed.
    const orphan = emptyRound<Memory>();
    orphan.states.set('q', { state: {}, trace: {}, record: { key: 'q', value: DEFERRED_STATE_VALUE, partition: 2, headers: {} } });
    orphan.emit.push({ topic: 'events', type: 'Event', message: { key: 'x', value: Buffer.from('event'), partition: 2 } });
    const before = logs.committed.length;
    await expect(sequencedRound(sequencing, task, where, orphan, new Map(), positions, zeroCounts())).rejects.toThrow('the state of q was never encoded');
    expect(logs.committed).toHaveLength(before);
  });
});
