// A round's one Kafka transaction: emitted messages, changed states (the
// changelog), dead letters and consumed offsets commit together or not at all.
import type { Message, Producer, RecordMetadata } from 'kafkajs';
import { dlqTopicName } from '../../schemas/topics';
import { deadLetterHeaders } from '../../consumers/projections/runtime/dlq';
import type { Round } from './round';

export interface Committed {
  /**
   * The changelog offset after the round's state records (their base offset
   * plus their count), read from the produce response; undefined when the round
   * wrote no state or the response did not say.
   */
  readonly changelogOffset: number | undefined;
}

export async function transact<S>(
  producer: Producer,
  where: { readonly groupId: string; readonly partition: number; readonly changelog: string },
  round: Round<S>,
  offsets: ReadonlyMap<string, number>,
): Promise<Committed> {
  const byTopic = new Map<string, Message[]>();
  const add = (topic: string, message: Message): void => {
    const list = byTopic.get(topic);
    if (list === undefined) byTopic.set(topic, [message]);
    else list.push(message);
  };
  // States first: they are the one topic whose offsets the store needs.
  for (const { record } of round.states.values()) add(where.changelog, record);
  for (const { topic, message } of round.emit) add(topic, message);
  for (const letter of round.dead) {
    add(dlqTopicName(letter.topic), { key: letter.key, value: letter.value, partition: letter.partition, headers: deadLetterHeaders(letter, where.groupId) });
  }
  const transaction = await producer.transaction();
  let sent: RecordMetadata[] = [];
  try {
    if (byTopic.size > 0) sent = await transaction.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
    if (offsets.size > 0) {
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
  if (round.states.size === 0) return { changelogOffset: undefined };
  const meta = sent.find((m) => m.topicName === where.changelog && m.partition === where.partition);
  const base = meta?.baseOffset === undefined ? Number.NaN : Number(meta.baseOffset);
  return { changelogOffset: Number.isSafeInteger(base) && base >= 0 ? base + round.states.size : undefined };
}
