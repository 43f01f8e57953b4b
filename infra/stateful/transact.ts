// A round's one Kafka transaction: emitted messages, changed states (the
// changelog), dead letters and consumed positions (group offsets with
// sendOffsets, or checkpoint records in the changelog: position-store.ts)
// commit together or not at all.
import type { Message, Producer, RecordMetadata } from 'kafkajs';
import { dlqTopicName } from '../../schemas/topics';
import { deadLetterHeaders } from '../consuming/dead-letters';
import { sendPerPartition } from '../kafka/transactions';
import type { PositionWrite } from './position-store';
import type { Round } from './round';

export interface Committed {
  /**
   * The changelog offset after the round's state and checkpoint records (their
   * base offset plus their count), read from the produce response; undefined
   * when the round wrote none or the response did not say.
   */
  readonly changelogOffset: number | undefined;
}

export async function transact<S>(
  producer: Producer,
  where: { readonly groupId: string; readonly partition: number; readonly changelog: string },
  round: Round<S>,
  offsets: ReadonlyMap<string, number>,
  positions: PositionWrite = { records: [], sendOffsets: true },
): Promise<Committed> {
  const byTopic = new Map<string, Message[]>();
  const add = (topic: string, message: Message): void => {
    const list = byTopic.get(topic);
    if (list === undefined) byTopic.set(topic, [message]);
    else list.push(message);
  };
  // States first: they are the one topic whose offsets the store needs.
  for (const { record } of round.states.values()) add(where.changelog, record);
  for (const record of positions.records) add(where.changelog, record);
  for (const { topic, message } of round.emit) add(topic, message);
  // Parked inputs, their tombstones and recorded actions (docs/stateful-runtime.md "Parking").
  for (const { topic, message } of round.control) add(topic, message);
  for (const letter of round.dead) {
    add(dlqTopicName(letter.topic), { key: letter.key, value: letter.value, partition: letter.partition, headers: deadLetterHeaders(letter, where.groupId) });
  }
  const transaction = await producer.transaction();
  let changelogOffset: number | undefined;
  try {
    // In requests of bounded size: a partition's records in one request form one record batch, which the broker
    // refuses beyond its max.message.bytes (1 MB by default); a large round (a catch-up) is several requests of one transaction.
    for (const chunk of chunks(byTopic)) {
      // One request per partition (infra/kafka/transactions.ts): one sendBatch over several brokers can write records twice when one of them fails.
      const sent = await sendPerPartition(transaction, [...chunk].map(([topic, messages]) => ({ topic, messages })));
      const states = chunk.get(where.changelog)?.length ?? 0;
      if (states > 0) changelogOffset = offsetAfter(sent, where, states);
    }
    if (positions.sendOffsets && offsets.size > 0) {
      await transaction.sendOffsets({
        consumerGroupId: where.groupId,
        topics: [...offsets].map(([topic, offset]) => ({ topic, partitions: [{ partition: where.partition, offset: String(offset) }] })),
      });
    }
    await transaction.commit();
  } catch (error) {
    await transaction.abort().catch(() => undefined);
    throw error;
  }
  return { changelogOffset: round.states.size === 0 && positions.records.length === 0 ? undefined : changelogOffset };
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
