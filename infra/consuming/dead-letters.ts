// Dead letters: a consumed message that cannot be decoded, or whose processing
// keeps failing, is copied as it was (raw key and value, original headers) to
// `<topic>.dlq` with the reason in headers, and the consumer carries on.
import type { IHeaders, Producer } from 'kafkajs';
import { dlqTopicName } from '../../schemas/topics';

export interface DeadLetter {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: IHeaders | undefined;
  /** A short stable code: a DecodeFailure (`not-avro`, `unknown-schema-id`, ...) or `processing-failed`. */
  readonly reason: string;
  readonly error: string;
}

/** The headers of a dead letter: the original ones plus where it came from and why it failed. */
export function deadLetterHeaders(letter: DeadLetter, consumerGroup: string): IHeaders {
  return {
    ...(letter.headers ?? {}),
    'dlq-reason': letter.reason,
    // Headers are bytes; keep them readable and bounded.
    'dlq-error': letter.error.slice(0, 2_000),
    'dlq-topic': letter.topic,
    'dlq-partition': String(letter.partition),
    'dlq-offset': String(letter.offset),
    'dlq-consumer-group': consumerGroup,
  };
}

export class DeadLetterQueue {
  constructor(
    private readonly producer: Producer,
    private readonly consumerGroup: string,
  ) {}

  /** Writes the letters (acks=all) before the consumer moves past them. Same partition as the original. */
  async send(letters: readonly DeadLetter[]): Promise<void> {
    const byTopic = new Map<string, DeadLetter[]>();
    for (const l of letters) byTopic.set(l.topic, [...(byTopic.get(l.topic) ?? []), l]);
    await this.producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic.entries()].map(([topic, list]) => ({
        topic: dlqTopicName(topic),
        messages: list.map((l) => ({ key: l.key, value: l.value, partition: l.partition, headers: deadLetterHeaders(l, this.consumerGroup) })),
      })),
    });
  }
}
