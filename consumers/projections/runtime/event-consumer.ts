// The generic consumer machinery of the read side and the process managers: a
// kafkajs consumer group reading topics with eachBatch, skipping event types
// the handler does not want by the `event-type` header (without decoding),
// decoding the rest with the AvroCodec, dead-lettering what cannot be decoded,
// and handing each partition batch to a BatchSink that writes it together with
// its checkpoint. Projectors (projector.ts) and the process-manager runtime
// (consumers/process-managers/runtime/) are both BatchSinks.
//
// Offsets, two kinds of sink:
// * a sink with its own checkpoint (`checkpoints`, e.g. a Redis hash written
//   atomically with the data) is the source of truth. On every assignment
//   (GROUP_JOIN) the consumer reads it and seeks each assigned partition
//   there; partitions with no checkpoint start at the group's committed offset,
//   else the earliest. Offsets are also committed to Kafka after each batch,
//   for lag monitoring only (`autoCommit`).
// * a transactional sink (the process managers) commits the consumed offsets
//   itself, inside its Kafka transaction (`autoCommit: false`); it gets the
//   assignment first (`assigned`) to fence and restore its state, and writes
//   the batch's dead letters in the same transaction (`writesDeadLetters`).
//
// Failures:
// * DecodeError (garbage, wrong magic byte, unknown schema id, corrupt body):
//   not retriable -> `<topic>.dlq` at once.
// * A sink write that fails is retried with exponential backoff (bounded).
//   If it still fails and the error is retriable (Redis or the registry is
//   down), the batch is given back to kafkajs, which restarts the consumer:
//   no message is at fault. If it is not retriable (a projection throws, Redis
//   refuses a command), the batch is replayed one record at a time to find the
//   culprit, which goes to the DLQ (reason `processing-failed`) while the
//   others are written.
import type { Consumer, ConsumerConfig, EachBatchPayload, IHeaders, Kafka, KafkaMessage, PartitionAssigner, Producer } from 'kafkajs';
import { DecodeError, type AvroCodec } from '../../../infra/kafka/codec';
import type { Logger } from '../../../infra/logging';
import { DEFAULT_RETRY, withRetries, type RetryPolicy } from './backoff';
import { DeadLetterQueue, type DeadLetter } from './dlq';

/** A consumed, decoded record. */
export interface DecodedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: Buffer | null;
  readonly rawValue: Buffer | null;
  readonly headers: IHeaders | undefined;
  /** Short record name, e.g. `OrderPlaced`. */
  readonly type: string;
  readonly fullName: string;
  readonly value: unknown;
}

export interface PartitionBatch {
  readonly topic: string;
  readonly partition: number;
  /** Records to apply, in offset order (skipped and dead-lettered ones left out). */
  readonly records: readonly DecodedRecord[];
  /** Messages of this batch that cannot be decoded, for a sink that `writesDeadLetters` (else always empty). */
  readonly deadLetters: readonly DeadLetter[];
  /** The checkpoint to store with them: the offset after the last consumed message. */
  readonly nextOffset: number;
}

export interface BatchSink {
  /** The stored checkpoint: next offset per partition of `topic` (absent = none). Without it, the group's committed offsets are used. */
  checkpoints?(topic: string): Promise<ReadonlyMap<number, number>>;
  /** Called on every assignment, before any batch of it is written (e.g. to fence and restore state). */
  assigned?(assignment: Readonly<Record<string, readonly number[]>>): Promise<void>;
  /** True when `write` puts `batch.deadLetters` in the DLQ itself, atomically with the batch. */
  readonly writesDeadLetters?: boolean;
  /** Applies the records and stores `nextOffset`, atomically. */
  write(batch: PartitionBatch): Promise<void>;
}

/** A failure that retrying will not fix (a projection bug, Redis refusing a command): isolate and dead-letter. */
export class ProcessingError extends Error {
  override readonly name = 'ProcessingError';
  readonly retriable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface EventConsumerOptions {
  readonly kafka: Kafka;
  readonly codec: AvroCodec;
  readonly logger: Logger;
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Record types (short names) to decode and pass on; others are skipped by header. */
  readonly handles: ReadonlySet<string>;
  readonly sink: BatchSink;
  readonly retry?: RetryPolicy;
  /** Is this error worth retrying / not the message's fault? Default: `error.retriable !== false`. */
  readonly isRetriable?: (error: unknown) => boolean;
  readonly partitionsConsumedConcurrently?: number;
  /** Commit consumed offsets to Kafka after each batch (default true). A sink that commits offsets in its own transaction turns it off. */
  readonly autoCommit?: boolean;
  /** How the group spreads partitions over its members (kafkajs's round robin by default). */
  readonly partitionAssigners?: readonly PartitionAssigner[];
  /** Consumer settings beyond the defaults (fetch sizes, session timeout, ...). */
  readonly consumerConfig?: Partial<Omit<ConsumerConfig, 'groupId' | 'partitionAssigners'>>;
  /** Told the offset after everything consumed and written from a partition, including batches of only transaction markers. */
  readonly onProgress?: (topic: string, partition: number, nextOffset: number) => void;
}

const header = (headers: IHeaders | undefined, name: string): string | undefined => {
  const raw = headers?.[name];
  const value = Array.isArray(raw) ? raw[0] : raw;
  return value === undefined ? undefined : value.toString();
};

const defaultIsRetriable = (error: unknown): boolean =>
  !(typeof error === 'object' && error !== null && 'retriable' in error && (error as { retriable: unknown }).retriable === false);

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export class EventConsumer {
  private consumer: Consumer | undefined;
  private producer: Producer | undefined;
  private dlq: DeadLetterQueue | undefined;
  private generation: Promise<void> = Promise.resolve();
  /** topic:partition -> checkpoint read at the last assignment. */
  private checkpoints = new Map<string, number>();
  private stopping = false;
  private readonly retry: RetryPolicy;
  private readonly isRetriable: (error: unknown) => boolean;
  private readonly log: Logger;
  /** Counters for health and tests. */
  readonly stats = { batches: 0, records: 0, skipped: 0, deadLettered: 0 };

  constructor(private readonly options: EventConsumerOptions) {
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.isRetriable = options.isRetriable ?? defaultIsRetriable;
    this.log = options.logger.child({ group: options.groupId });
  }

  async start(): Promise<void> {
    const { kafka, groupId, topics, sink, onProgress } = this.options;
    if (sink.writesDeadLetters !== true) {
      this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await this.producer.connect();
      this.dlq = new DeadLetterQueue(this.producer, groupId);
    }
    const consumer = kafka.consumer({
      maxWaitTimeInMs: 100,
      retry: { retries: 5 },
      ...this.options.consumerConfig,
      groupId,
      ...(this.options.partitionAssigners === undefined ? {} : { partitionAssigners: [...this.options.partitionAssigners] }),
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      // Runs synchronously inside kafkajs's join, before fetching starts; eachBatch waits for it.
      this.generation = this.onAssignment(payload.memberAssignment);
    });
    if (onProgress !== undefined) {
      // Batches of only transaction markers (or aborted records) never reach eachBatch; kafkajs reports them here.
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        if (payload.batchSize === 0) onProgress(payload.topic, payload.partition, Number(payload.lastOffset) + 1);
      });
    }
    await consumer.connect();
    await consumer.subscribe({ topics: [...topics], fromBeginning: true });
    await consumer.run({
      autoCommit: this.autoCommit,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 3,
      eachBatch: (payload) => this.eachBatch(payload),
    });
    this.log.info({ topics }, 'consuming');
  }

  private get autoCommit(): boolean {
    return this.options.autoCommit ?? true;
  }

  /** Stops fetching, lets the batch in flight finish its write, disconnects. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer?.disconnect();
    await this.producer?.disconnect();
  }

  private async onAssignment(assignment: Record<string, number[]>): Promise<void> {
    const { sink } = this.options;
    this.checkpoints = new Map();
    await sink.assigned?.(assignment);
    if (sink.checkpoints !== undefined) await this.seekToCheckpoints(assignment, sink.checkpoints.bind(sink));
    else this.log.info({ assignment }, 'assigned');
  }

  private async seekToCheckpoints(assignment: Record<string, number[]>, checkpoints: (topic: string) => Promise<ReadonlyMap<number, number>>): Promise<void> {
    const consumer = this.consumer;
    for (const [topic, partitions] of Object.entries(assignment)) {
      const stored = await checkpoints(topic);
      for (const partition of partitions) {
        const offset = stored.get(partition);
        if (offset === undefined) continue; // committed offset, else earliest
        this.checkpoints.set(`${topic}:${partition}`, offset);
        consumer?.seek({ topic, partition, offset: String(offset) });
      }
    }
    this.log.info({ assignment, checkpoints: Object.fromEntries(this.checkpoints) }, 'assigned; seeked to the stored checkpoints');
  }

  private async eachBatch({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }: EachBatchPayload): Promise<void> {
    try {
      await this.generation;
    } catch (error) {
      // Could not read the checkpoint: nothing is processed until it can be (kafkajs restarts the consumer).
      this.generation = Promise.resolve();
      throw error;
    }
    if (!isRunning() || isStale() || batch.messages.length === 0) return;
    const { topic, partition } = batch;
    const from = this.checkpoints.get(`${topic}:${partition}`) ?? -1;
    const messages = batch.messages.filter((m) => Number(m.offset) >= from);
    // The batch's last offset counts a trailing transaction marker or aborted record too.
    const lastOffset = batch.lastOffset();
    const nextOffset = Number(lastOffset) + 1;
    if (messages.length > 0) {
      const { records, dead } = await this.decodeAll(topic, partition, messages);
      const atomic = this.options.sink.writesDeadLetters === true;
      if (dead.length > 0 && !atomic) await this.deadLetter(dead);
      await this.write({ topic, partition, records, deadLetters: atomic ? dead : [], nextOffset });
    }
    this.checkpoints.set(`${topic}:${partition}`, nextOffset);
    resolveOffset(lastOffset);
    if (this.autoCommit) await commitOffsetsIfNecessary();
    await heartbeat();
    this.options.onProgress?.(topic, partition, nextOffset);
    this.stats.batches += 1;
  }

  private async decodeAll(topic: string, partition: number, messages: readonly KafkaMessage[]): Promise<{ records: DecodedRecord[]; dead: DeadLetter[] }> {
    const { codec, handles } = this.options;
    const records: DecodedRecord[] = [];
    const dead: DeadLetter[] = [];
    for (const m of messages) {
      const offset = Number(m.offset);
      const type = header(m.headers, 'event-type');
      if ((type !== undefined && !handles.has(type)) || m.value === null) {
        this.stats.skipped += 1; // not ours, or a tombstone
        continue;
      }
      try {
        const decoded = await withRetries(
          this.retry,
          () => codec.decode(m.value),
          (error, attempt, delayMs) => this.log.warn({ err: error, topic, partition, offset, attempt, delayMs }, 'decode failed; retrying'),
          (error) => !(error instanceof DecodeError) && !this.stopping,
        );
        const shortName = decoded.fullName.slice(decoded.fullName.lastIndexOf('.') + 1);
        if (!handles.has(shortName)) {
          this.stats.skipped += 1;
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

  private async write(batch: PartitionBatch): Promise<void> {
    const log = this.log.child({ topic: batch.topic, partition: batch.partition });
    const write = (b: PartitionBatch): Promise<void> => withRetries(this.retry, () => this.options.sink.write(b), undefined, () => !this.stopping);
    try {
      await withRetries(
        this.retry,
        () => this.options.sink.write(batch),
        (error, attempt, delayMs) => log.warn({ err: error, attempt, delayMs, records: batch.records.length }, 'batch write failed; retrying'),
        () => !this.stopping,
      );
      this.written(batch);
      return;
    } catch (error) {
      if (this.isRetriable(error) || batch.records.length === 0) throw error;
      log.error({ err: error }, 'batch write keeps failing; writing its records one at a time to find the culprit');
    }
    // The batch's own dead letters (a sink that writes them) go with the first write that succeeds.
    let deadLetters = batch.deadLetters;
    for (let i = 0; i < batch.records.length; i += 1) {
      const record = batch.records[i] as DecodedRecord;
      const next = i === batch.records.length - 1 ? batch.nextOffset : record.offset + 1;
      try {
        const single = { ...batch, records: [record], deadLetters, nextOffset: next };
        await write(single);
        this.written(single);
      } catch (error) {
        if (this.isRetriable(error)) throw error;
        log.error({ err: error, offset: record.offset, eventType: record.type }, 'record keeps failing; dead-lettering it');
        const letter: DeadLetter = { topic: record.topic, partition: record.partition, offset: record.offset, key: record.key, value: record.rawValue, headers: record.headers, reason: 'processing-failed', error: messageOf(error) };
        if (this.options.sink.writesDeadLetters === true) {
          const skip = { ...batch, records: [], deadLetters: [...deadLetters, letter], nextOffset: next };
          await write(skip);
          this.written(skip);
        } else {
          await this.deadLetter([letter]);
          await write({ ...batch, records: [], nextOffset: next });
        }
      }
      deadLetters = [];
    }
  }

  private written(batch: PartitionBatch): void {
    this.stats.records += batch.records.length;
    this.stats.deadLettered += batch.deadLetters.length;
    for (const l of batch.deadLetters) this.log.warn({ topic: l.topic, partition: l.partition, offset: l.offset, reason: l.reason, error: l.error }, 'dead-lettered a message');
  }

  private async deadLetter(letters: readonly DeadLetter[]): Promise<void> {
    for (const l of letters) this.log.warn({ topic: l.topic, partition: l.partition, offset: l.offset, reason: l.reason, error: l.error }, 'dead-lettering a message');
    await withRetries(this.retry, () => (this.dlq as DeadLetterQueue).send(letters), undefined, () => !this.stopping);
    this.stats.deadLettered += letters.length;
  }
}
