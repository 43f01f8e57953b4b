// Sequenced outputs (infra/stateful/emit-offsets.ts, sequenced-round.ts; docs/stateful-runtime.md
// "Sequenced outputs") against a small model of a partition log: offsets taken by records and by each
// transaction's commit or abort marker. Learned first, then predicted in one pass, a miss aborted and written again.
import type { Message, Producer, RecordMetadata } from 'kafkajs';
import type { AvroCodec } from '../../../../infra/kafka/codec';
import type { TopicCatalog } from '../../../../schemas/topics';
import type { EmittedOffset, Outgoing } from '../../../../infra/stateful/definition';
import { emptyRound, type Round } from '../../../../infra/stateful/round';
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
  round.late.push({ after: (offsets) => offsets.map(ack), trace: {}, refs });
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
