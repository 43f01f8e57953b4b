// A round's one Kafka transaction: emitted messages, changed states (the
// changelog), dead letters and consumed positions (group offsets with
// sendOffsets, or checkpoint records in the changelog: position-store.ts)
// commit together or not at all; for a task of several parts (definitions),
// each part's states and checkpoints in its own changelog, in the same one.
import type { Message, RecordMetadata, Transaction } from 'kafkajs';
import type { TaskProducer } from './task-group';
import { dlqTopicName } from '../../schemas/topics';
import { deadLetterHeaders } from '../consuming/dead-letters';
import { sendPerPartition } from '../kafka/transactions';
import type { PositionWrite } from './position-store';
import { assertEncoded, type ChangedState, type Round } from './round';

export interface Committed {
  /**
   * The changelog offset after the round's state and checkpoint records (their
   * base offset plus their count), read from the produce response; undefined
   * when the round wrote none or the response did not say.
   */
  readonly changelogOffset: number | undefined;
}

/** What one part (definition) of a task writes in the round's transaction (docs/stateful-runtime.md "Several definitions per task"). */
export interface PartWrite<S> {
  /** The part's physical changelog topic. */
  readonly changelog: string;
  readonly round: Round<S>;
  readonly positions: PositionWrite;
}

export interface PartsCommitted {
  /** Per part, as `Committed.changelogOffset` for its own changelog. */
  readonly changelogOffsets: ReadonlyArray<number | undefined>;
}

type Where = { readonly groupId: string; readonly partition: number };

/** The one-part transaction (a single-definition runtime's). */
export async function transact<S>(
  producer: TaskProducer,
  where: Where & { readonly changelog: string },
  round: Round<S>,
  offsets: ReadonlyMap<string, number>,
  positions: PositionWrite = { records: [], sendOffsets: true },
): Promise<Committed> {
  const { changelogOffsets } = await transactParts(producer, where, [{ changelog: where.changelog, round, positions }], offsets);
  return { changelogOffset: changelogOffsets[0] };
}

/** Adds each part's changelog records (its states, `completed` in place of a state where given, then its checkpoints). */
export function addChangelogRecords<S>(writes: ReadonlyArray<PartWrite<S>>, add: (topic: string, message: Message) => void, completed?: ReadonlyArray<ReadonlyMap<string, ChangedState<S>>>): void {
  writes.forEach((w, k) => {
    for (const [id, changed] of w.round.states) {
      const { record } = completed?.[k]?.get(id) ?? changed;
      assertEncoded(id, record);
      add(w.changelog, record);
    }
    for (const record of w.positions.records) add(w.changelog, record);
  });
}

/** Adds a round's other records: its emitted messages (those `keep` keeps), parking records and dead letters. */
export function addOtherRecords<S>(round: Round<S>, groupId: string, add: (topic: string, message: Message) => void, keep: (topic: string) => boolean = () => true): void {
  for (const { topic, message } of round.emit) if (keep(topic)) add(topic, message);
  // Parked inputs, their tombstones and recorded actions (docs/stateful-runtime.md "Parking").
  for (const { topic, message } of round.control) add(topic, message);
  for (const letter of round.dead) add(dlqTopicName(letter.topic), { key: letter.key, value: letter.value, partition: letter.partition, headers: deadLetterHeaders(letter, groupId) });
}

/** Notes, per part, the offset after its changelog records in a request (`into`), from its produce response. */
export function noteChangelogOffsets<S>(writes: ReadonlyArray<PartWrite<S>>, chunk: ReadonlyMap<string, readonly Message[]>, sent: readonly RecordMetadata[], partition: number, into: Array<number | undefined>): void {
  writes.forEach((w, k) => {
    const count = chunk.get(w.changelog)?.length ?? 0;
    if (count > 0) into[k] = offsetAfter(sent, { partition, changelog: w.changelog }, count);
  });
}

/** Per part, the offset noted, or undefined when the part wrote nothing to its changelog. */
export const changelogOffsetsOf = <S>(writes: ReadonlyArray<PartWrite<S>>, noted: ReadonlyArray<number | undefined>): Array<number | undefined> =>
  writes.map((w, k) => (w.round.states.size === 0 && w.positions.records.length === 0 ? undefined : noted[k]));

/** The round's transaction for every part of the task: one transaction, each part's states and checkpoints in its own changelog. */
export async function transactParts<S>(producer: TaskProducer, where: Where, writes: ReadonlyArray<PartWrite<S>>, offsets: ReadonlyMap<string, number>): Promise<PartsCommitted> {
  const byTopic = new Map<string, Message[]>();
  const add = (topic: string, message: Message): void => {
    const list = byTopic.get(topic);
    if (list === undefined) byTopic.set(topic, [message]);
    else list.push(message);
  };
  // States first: they are the one topic whose offsets the store needs.
  addChangelogRecords(writes, add);
  for (const w of writes) addOtherRecords(w.round, where.groupId, add);
  const transaction = await producer.transaction();
  const noted: Array<number | undefined> = writes.map(() => undefined);
  try {
    // In requests of bounded size: a partition's records in one request form one record batch, which the broker
    // refuses beyond its max.message.bytes (1 MB by default); a large round (a catch-up) is several requests of one transaction.
    for (const chunk of chunks(byTopic)) {
      // One request per partition (infra/kafka/transactions.ts): one sendBatch over several brokers can write records twice when one of them fails.
      const sent = await sendPerPartition(transaction, [...chunk].map(([topic, messages]) => ({ topic, messages })));
      noteChangelogOffsets(writes, chunk, sent, where.partition, noted);
    }
    await sendGroupOffsets(transaction, where, writes, offsets);
    await transaction.commit();
  } catch (error) {
    await transaction.abort().catch(() => undefined);
    throw error;
  }
  return { changelogOffsets: changelogOffsetsOf(writes, noted) };
}

/** The consumed offsets to the group within the transaction, when the positions are the group's. */
export async function sendGroupOffsets<S>(transaction: Pick<Transaction, 'sendOffsets'>, where: Where, writes: ReadonlyArray<PartWrite<S>>, offsets: ReadonlyMap<string, number>): Promise<void> {
  if (!writes.some((w) => w.positions.sendOffsets) || offsets.size === 0) return;
  await transaction.sendOffsets({
    consumerGroupId: where.groupId,
    topics: [...offsets].map(([topic, offset]) => ({ topic, partitions: [{ partition: where.partition, offset: String(offset) }] })),
  });
}

/** Bytes of messages per request (well below the broker's default max.message.bytes of 1 MB). */
export const REQUEST_BYTES = 512 * 1024;

const sizeOf = (m: Message): number => {
  let n = 64 + (m.key?.length ?? 0) + (m.value?.length ?? 0);
  for (const [k, v] of Object.entries(m.headers ?? {})) n += k.length + (typeof v === 'string' || Buffer.isBuffer(v) ? v.length : 16);
  return n;
};

/** Splits the round's messages, in order, into requests of at most REQUEST_BYTES (one message at least). */
export function* chunks(byTopic: ReadonlyMap<string, readonly Message[]>): Generator<Map<string, Message[]>> {
  let chunk = new Map<string, Message[]>();
  let bytes = 0;
  for (const [topic, messages] of byTopic) {
    for (const message of messages) {
      const size = sizeOf(message);
      if (bytes > 0 && bytes + size > REQUEST_BYTES) {
        yield chunk;
        chunk = new Map();
        bytes = 0;
      }
      const list = chunk.get(topic);
      if (list === undefined) chunk.set(topic, [message]);
      else list.push(message);
      bytes += size;
    }
  }
  if (chunk.size > 0) yield chunk;
}

/** The changelog offset after a request's `count` state (and checkpoint) records, from its produce response (their base offset plus their count). */
function offsetAfter(sent: readonly RecordMetadata[], where: { readonly partition: number; readonly changelog: string }, count: number): number | undefined {
  const meta = sent.find((m) => m.topicName === where.changelog && m.partition === where.partition);
  const base = meta?.baseOffset === undefined ? Number.NaN : Number(meta.baseOffset);
  return Number.isSafeInteger(base) && base >= 0 ? base + count : undefined;
}
