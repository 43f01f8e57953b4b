// The keys topic, read and written (docs/privacy.md). Every role that holds a
// key cache (the gateway, which seals, and the query API, which opens) runs one
// of these: a consumer of its own reads restaurant.privacy.data-keys from the
// beginning into a KeyRing and keeps following it, so a forget done by any
// gateway reaches every cache within a fetch. Unwrapped data keys are cached
// in memory only, never written anywhere.
import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import { ReadPositions } from '../kafka/read-positions';
import { partitionFor } from '../../schemas/partitioning';
import { DATA_KEYS_TOPIC } from '../../schemas/topics';
import type { Logger } from '../logging';
import { newDataKey, unwrapKey, wrapKey, type DataKey, type MasterKey } from './crypto';
import { dataKeyRecordKey, forgottenRecordKey, KeyRing, parseKeyTopicRecord, type CustomerKeys, type DataKeyRecord, type ForgottenRecord } from './key-ring';

/** What the sealing and opening code needs of a key store (KafkaKeyStore, or a KeyRing-backed one in tests). */
export interface KeySource {
  customer(customerId: string): CustomerKeys;
  /** The unwrapped key of a record; throws SealedValueError when it does not unwrap. */
  dataKey(record: DataKeyRecord): DataKey;
}

/** The customer was forgotten: nothing personal may be sealed for them again (HTTP 409 customer_forgotten). */
export class CustomerForgottenError extends Error {
  override readonly name = 'CustomerForgottenError';
  readonly retriable = false;
}

/** The key cache has not caught up with the keys topic in time: it cannot tell "no key yet" (HTTP 503). */
export class KeyStoreBehind extends Error {
  override readonly name = 'KeyStoreBehind';
  readonly retriable = true;
}

export interface KeyStoreOptions {
  readonly topic?: string;
  /** How long a lookup of an unknown customer waits for the topic's end. */
  readonly catchUpMs?: number;
  readonly clock?: () => number;
}

export class KafkaKeyStore implements KeySource {
  readonly ring = new KeyRing();
  private readonly unwrapped = new Map<string, DataKey>();
  private readonly positions = new ReadPositions();
  private readonly topic: string;
  private readonly catchUpMs: number;
  private readonly clock: () => number;
  private consumer: Consumer | undefined;
  private producer: Producer | undefined;
  private admin: Admin | undefined;
  private partitions = 0;

  constructor(
    private readonly kafka: Kafka,
    private readonly master: MasterKey,
    private readonly logger: Logger,
    options: KeyStoreOptions = {},
  ) {
    this.topic = options.topic ?? DATA_KEYS_TOPIC;
    this.catchUpMs = options.catchUpMs ?? 2000;
    this.clock = options.clock ?? Date.now;
  }

  /** Reads the whole topic; false if it was not read to its end within timeoutMs (the cache then keeps following it). */
  async start(timeoutMs: number, { write = false }: { readonly write?: boolean } = {}): Promise<boolean> {
    this.admin = this.kafka.admin();
    await this.admin.connect();
    const metadata = await this.admin.fetchTopicMetadata({ topics: [this.topic] });
    this.partitions = metadata.topics[0]?.partitions.length ?? 0;
    if (this.partitions === 0) throw new Error(`the keys topic ${this.topic} has no partitions`);
    if (write) {
      this.producer = this.kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
      await this.producer.connect();
    }
    const consumer = this.kafka.consumer({ groupId: `restaurant.privacy.keys.${randomUUID()}`, maxWaitTimeInMs: 250 });
    this.consumer = consumer;
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      this.positions.advance(payload.partition, Number(payload.lastOffset));
    });
    await consumer.connect();
    await consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          const key = message.key?.toString() ?? '';
          if (message.value === null) {
            this.forgetUnwrapped(key);
            this.ring.apply(key, undefined);
            continue;
          }
          const record = parseKeyTopicRecord(message.value);
          // Key material and customer ids stay out of the log: the offset says which record.
          if (record === undefined) {
            this.logger.warn({ topic: this.topic, partition: batch.partition, offset: message.offset }, 'keys topic: record of an unknown format skipped');
            continue;
          }
          this.ring.apply(key, record);
          // A key created after the forget (by a gateway that had not read the marker yet) is destroyed too.
          if (record.kind === 'data-key' && this.producer !== undefined && this.ring.customer(record.customerId).status === 'forgotten') this.shredLate(key, record.customerId);
        }
      },
    });
    return this.catchUp(timeoutMs);
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    await this.producer?.disconnect();
    await this.admin?.disconnect();
    this.unwrapped.clear();
  }

  private shredLate(recordKey: string, customerId: string): void {
    // Kept in the ring until its tombstone is read back, so a later forget tombstones it again if this write fails.
    this.forgetUnwrapped(recordKey);
    this.write([{ key: recordKey, value: null }], customerId).catch((error: unknown) =>
      this.logger.error({ customerId, err: error }, 'a data key created after its customer was forgotten could not be destroyed; forgetting them again will'),
    );
  }

  private forgetUnwrapped(recordKey: string): void {
    this.unwrapped.delete(recordKey);
  }

  customer(customerId: string): CustomerKeys {
    return this.ring.customer(customerId);
  }

  dataKey(record: DataKeyRecord): DataKey {
    const cacheKey = dataKeyRecordKey(record.customerId, record.keyId);
    const known = this.unwrapped.get(cacheKey);
    if (known !== undefined) return known;
    const key = unwrapKey(this.master, record);
    this.unwrapped.set(cacheKey, key);
    return key;
  }

  /** The customer's keys, after catching up with the topic when none is known here yet. */
  async lookup(customerId: string): Promise<CustomerKeys> {
    const known = this.ring.customer(customerId);
    if (known.status !== 'unknown') return known;
    if (!(await this.catchUp(this.catchUpMs))) throw new KeyStoreBehind(`the key cache is catching up with ${this.topic}; try again`);
    return this.ring.customer(customerId);
  }

  /**
   * The key to seal a customer's data with: the newest one, or a new one
   * written to the topic first. `rotate` writes a new key even when one exists
   * (sign-up does, to record the e-mail reservation beside it).
   */
  async sealingKey(customerId: string, options: { readonly rotate?: boolean; readonly emailReservation?: string | null } = {}): Promise<DataKey> {
    const keys = await this.lookup(customerId);
    if (keys.status === 'forgotten') throw new CustomerForgottenError('this customer was forgotten: no personal data is taken for them');
    if (keys.status === 'active' && options.rotate !== true) return this.dataKey(keys.current);
    const dataKey = newDataKey(customerId);
    const record: DataKeyRecord = {
      v: 1,
      kind: 'data-key',
      ...wrapKey(this.master, dataKey),
      createdAt: this.clock(),
      emailReservation: options.emailReservation ?? null,
    };
    const recordKey = dataKeyRecordKey(customerId, dataKey.keyId);
    await this.write([{ key: recordKey, value: Buffer.from(JSON.stringify(record)) }], customerId);
    this.ring.apply(recordKey, record);
    this.unwrapped.set(recordKey, dataKey);
    return dataKey;
  }

  /**
   * Shreds a customer's data keys: the forgotten marker first (every cache
   * then refuses and masks at once), then a tombstone per data key, which
   * compaction turns into the keys' removal from disk. Returns the e-mail
   * reservations recorded with the keys, for the caller to release. Idempotent.
   */
  async forget(customerId: string): Promise<{ readonly emailReservations: readonly string[] }> {
    if (!(await this.catchUp(this.catchUpMs))) throw new KeyStoreBehind(`the key cache is catching up with ${this.topic}; try again`);
    const records = this.ring.recordsOf(customerId);
    const marker: ForgottenRecord = { v: 1, kind: 'forgotten', customerId, forgottenAt: this.clock() };
    await this.write(
      [
        { key: forgottenRecordKey(customerId), value: Buffer.from(JSON.stringify(marker)) },
        ...records.map((r) => ({ key: dataKeyRecordKey(customerId, r.keyId), value: null })),
      ],
      customerId,
    );
    this.ring.apply(forgottenRecordKey(customerId), marker);
    for (const r of records) {
      this.forgetUnwrapped(dataKeyRecordKey(customerId, r.keyId));
      this.ring.apply(dataKeyRecordKey(customerId, r.keyId), undefined);
    }
    return { emailReservations: [...new Set(records.map((r) => r.emailReservation).filter((e): e is string => e !== null))] };
  }

  private async write(messages: { key: string; value: Buffer | null }[], customerId: string): Promise<void> {
    if (this.producer === undefined) throw new Error('this key store was started read-only');
    // All of a customer's records on one partition, in order: a marker is never overtaken by a key written before it.
    const partition = partitionFor(customerId, this.partitions);
    await this.producer.send({ topic: this.topic, acks: -1, messages: messages.map((m) => ({ ...m, partition })) });
  }

  /** Waits (at most timeoutMs) until every partition has been read up to the end it has now. */
  async catchUp(timeoutMs: number): Promise<boolean> {
    if (this.admin === undefined) throw new Error('the key store is not started');
    const ends = await this.admin.fetchTopicOffsets(this.topic);
    return this.positions.until(ends, timeoutMs);
  }
}
