// Decoding a fetched partition batch (docs/read-side.md "Failures"): records
// whose `event-type` header names a type the sink does not handle are skipped
// without decoding, tombstones too; the rest are decoded with the AvroCodec,
// asking the registry (with retries) for a schema seen for the first time. A
// message that cannot be decoded (garbage, unknown schema id, corrupt body) is
// a dead letter; a registry that does not answer throws, and the batch is
// given back. On a topic in `deadLetterUnhandled` a record of a type not
// handled is a dead letter too (`unknown-record`).
import type { IHeaders, KafkaMessage } from 'kafkajs';
import { DecodeError, type AvroCodec } from '../kafka/codec';
import type { Logger } from '../logging';
import { withRetries, type RetryPolicy } from './backoff';
import type { DecodedRecord } from './batch-sink';
import type { DeadLetter } from './dead-letters';

export interface DecodeContext {
  readonly codec: AvroCodec;
  /** Record types (short names) to decode and pass on. */
  readonly handles: ReadonlySet<string>;
  /** Topics where a record of a type not handled is a dead letter (`unknown-record`) instead of skipped. */
  readonly deadLetterUnhandled?: ReadonlySet<string>;
  readonly retry: RetryPolicy;
  readonly log: Logger;
  stopping(): boolean;
  /** Told of each retry of a registry lookup. */
  onRetry(): void;
  /** Told of each message skipped (not handled, or a tombstone). */
  onSkipped(): void;
}

const header = (headers: IHeaders | undefined, name: string): string | undefined => {
  const raw = headers?.[name];
  const value = Array.isArray(raw) ? raw[0] : raw;
  return value === undefined ? undefined : value.toString();
};

export async function decodeBatch(ctx: DecodeContext, topic: string, partition: number, messages: readonly KafkaMessage[]): Promise<{ records: DecodedRecord[]; dead: DeadLetter[] }> {
  const { codec, handles } = ctx;
  const records: DecodedRecord[] = [];
  const dead: DeadLetter[] = [];
  const strict = ctx.deadLetterUnhandled?.has(topic) === true;
  for (const m of messages) {
    const offset = Number(m.offset);
    const type = header(m.headers, 'event-type');
    if (strict && type !== undefined && !handles.has(type) && m.value !== null) {
      dead.push({ topic, partition, offset, key: m.key, value: m.value, headers: m.headers, reason: 'unknown-record', error: `${type} is not handled on ${topic}` });
      continue;
    }
    if ((type !== undefined && !handles.has(type)) || m.value === null) {
      ctx.onSkipped(); // not ours, or a tombstone
      continue;
    }
    try {
      // Known schemas decode at once; the first message of a schema asks the registry, with retries.
      const decoded = codec.decodeKnown(m.value) ?? await withRetries(
        ctx.retry,
        () => codec.decode(m.value),
        (error, attempt, delayMs) => {
          ctx.onRetry();
          ctx.log.warn({ err: error, topic, partition, offset, attempt, delayMs }, 'decode failed; retrying');
        },
        (error) => !(error instanceof DecodeError) && !ctx.stopping(),
      );
      const shortName = decoded.fullName.slice(decoded.fullName.lastIndexOf('.') + 1);
      if (!handles.has(shortName)) {
        if (strict) throw new DecodeError('unknown-record', `${decoded.fullName} is not handled on ${topic}`);
        ctx.onSkipped();
        continue;
      }
      records.push({ topic, partition, offset, key: m.key, rawValue: m.value, headers: m.headers, type: shortName, fullName: decoded.fullName, value: decoded.value });
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error; // the registry is down: give the batch back
      dead.push({ topic, partition, offset, key: m.key, value: m.value, headers: m.headers, reason: error.reason, error: error.message });
    }
  }
  return { records, dead };
}
