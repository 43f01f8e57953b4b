// Decoding a batch (infra/consuming/decode-batch.ts): records of types not handled are skipped, or, on a topic in
// `deadLetterUnhandled`, dead-lettered `unknown-record` (by header, or by the decoded record's name); tombstones skipped.
import type { KafkaMessage } from 'kafkajs';
import type { AvroCodec } from '../../../../infra/kafka/codec';
import { rootLogger } from '../../../../infra/logging';
import { decodeBatch, type DecodeContext } from '../../../../infra/consuming/decode-batch';

// A stand-in for the registry-backed codec: the value's bytes are the record's full name.
const codec = { decodeKnown: (bytes: Buffer) => ({ fullName: bytes.toString(), value: {}, schemaId: 1 }) } as unknown as AvroCodec;
const message = (offset: number, fullName: string | null, type?: string): KafkaMessage =>
  ({ offset: String(offset), key: Buffer.from('o-1'), value: fullName === null ? null : Buffer.from(fullName), headers: type === undefined ? {} : { 'event-type': type }, timestamp: '0', attributes: 0 }) as KafkaMessage;
const context = (strict: boolean): DecodeContext => ({
  codec,
  handles: new Set(['OpenOrder']),
  ...(strict ? { deadLetterUnhandled: new Set(['cmds']) } : {}),
  retry: { attempts: 1, initialDelayMs: 1, maxDelayMs: 1 },
  log: rootLogger,
  stopping: () => false,
  onRetry: () => undefined,
  onSkipped: () => undefined,
});
const batch = [message(1, 'r.order.OpenOrder', 'OpenOrder'), message(2, 'r.order.OrderOpened', 'OrderOpened'), message(3, 'r.menu.CreateMenuItem'), message(4, null, 'OrderOpened'), message(5, 'r.order.OpenOrder')];

describe('decoding a batch', () => {
  it('skips records of types not handled, by default', async () => {
    const { records, dead } = await decodeBatch(context(false), 'cmds', 0, batch);
    expect(records.map((r) => r.offset)).toEqual([1, 5]);
    expect(dead).toEqual([]);
  });

  it('dead-letters them on a topic in deadLetterUnhandled (by header or by name), tombstones still skipped', async () => {
    const { records, dead } = await decodeBatch(context(true), 'cmds', 0, batch);
    expect(records.map((r) => r.offset)).toEqual([1, 5]);
    expect(dead.map((d) => [d.offset, d.reason])).toEqual([[2, 'unknown-record'], [3, 'unknown-record']]);
    // Another topic of the same consumer is not strict.
    expect((await decodeBatch(context(true), 'events', 0, batch)).dead).toEqual([]);
  });
});
