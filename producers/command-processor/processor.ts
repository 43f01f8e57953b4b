// The command processor: a consumer group over the aggregates' command topics.
// For each partition it owns it keeps the aggregates' state in memory, restored
// from the snapshot topic, and decides that partition's commands in order. Each
// batch is one Kafka transaction: events, snapshots, replies, dead letters and
// the consumed offsets commit together or not at all.
//
// Zombie fencing: the transactional id is bound to the input partition
// (`<group>.<topic>.<partition>`), so a new owner's first transaction fences the
// previous owner and aborts its open transaction before state is restored.
import type { Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { CommandMetadata, CommandReply } from '../../schemas/generated/types';
import { eventKey, partitionFor } from '../../schemas/partitioning';
import { COMMAND_REPLIES_TOPIC, dlqTopicName, topicCatalog, type TopicCatalog } from '../../schemas/topics';
import { AvroCodec, DecodeError } from '../../infra/kafka/codec';
import { readToEnd } from '../../infra/kafka/read-to-end';
import type { Logger } from '../../infra/logging';
import type { CommandAggregate } from '../gateway/command-bus';
import { aggregateRuntimes, type AggregateRuntime, type ProcessorContext } from './aggregates';
import { handleCommand, withReply, type AggregateEntry, type Handled } from './handle';

export const DEFAULT_GROUP = 'restaurant.command-processor';
const REPLY_RECORD = 'restaurant.common.CommandReply';

export interface CommandProcessorOptions {
  readonly kafka: Kafka;
  readonly codec: AvroCodec;
  readonly logger: Logger;
  readonly context: ProcessorContext;
  readonly groupId?: string;
  readonly catalog?: TopicCatalog;
  readonly clock?: () => number;
  /** Most commands decided in one transaction (a fetched batch may be split). */
  readonly maxPerTransaction?: number;
}

interface Worker {
  readonly topic: string;
  readonly partition: number;
  readonly runtime: AggregateRuntime;
  readonly producer: Producer;
  readonly entries: Map<string, AggregateEntry>;
  /** Offsets below this were committed (possibly by a previous owner) after our consumer fetched: skip them. */
  readonly floor: number;
}

interface Topics {
  readonly commands: string;
  readonly events: string;
  readonly snapshots: string;
}

export class CommandProcessor {
  private readonly groupId: string;
  private readonly catalog: TopicCatalog;
  private readonly clock: () => number;
  private readonly maxPerTransaction: number;
  private readonly runtimes: Readonly<Record<CommandAggregate, AggregateRuntime>>;
  private readonly byCommandTopic = new Map<string, { runtime: AggregateRuntime; topics: Topics }>();
  private readonly workers = new Map<string, Promise<Worker>>();
  private readonly commandRecords: ReadonlySet<string>;
  private consumer: Consumer | undefined;
  private stopping = false;

  constructor(private readonly options: CommandProcessorOptions) {
    this.groupId = options.groupId ?? DEFAULT_GROUP;
    this.catalog = options.catalog ?? topicCatalog();
    this.clock = options.clock ?? Date.now;
    this.maxPerTransaction = options.maxPerTransaction ?? 500;
    this.runtimes = aggregateRuntimes(options.context);
    const commandRecords = new Set<string>();
    for (const runtime of Object.values(this.runtimes)) {
      const t = this.catalog.forAggregate(runtime.aggregate);
      if (!t.commands || !t.events || !t.snapshots) throw new Error(`the catalog lacks topics for ${runtime.aggregate}`);
      this.byCommandTopic.set(t.commands.name, {
        runtime,
        topics: { commands: t.commands.name, events: t.events.name, snapshots: t.snapshots.name },
      });
      t.commands.subjects.forEach((s) => commandRecords.add(s.recordName));
    }
    this.commandRecords = commandRecords;
  }

  get commandTopics(): string[] {
    return [...this.byCommandTopic.keys()];
  }

  async start(): Promise<void> {
    const { kafka, logger } = this.options;
    const consumer = kafka.consumer({
      groupId: this.groupId,
      readUncommitted: false,
      maxWaitTimeInMs: 20,
      // A crashed instance's partitions move to the survivors within ~10 s.
      sessionTimeout: 10_000,
      rebalanceTimeout: 20_000,
      heartbeatInterval: 1_000,
      // The processor decides commands one at a time per partition; a big fetch only delays the first reply.
      maxBytesPerPartition: 256 * 1024,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const assigned = new Set(
        Object.entries(payload.memberAssignment).flatMap(([topic, partitions]) => partitions.map((p) => `${topic}:${p}`)),
      );
      for (const key of [...this.workers.keys()]) if (!assigned.has(key)) void this.retire(key, 'revoked');
      logger.info({ partitions: assigned.size, generation: payload.groupId }, 'command processor joined its group');
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      logger.error({ err: payload.error, restart: payload.restart }, 'command processor consumer crashed');
    });
    await consumer.connect();
    await consumer.subscribe({ topics: this.commandTopics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 4,
      eachBatch: (payload) => this.onBatch(payload),
    });
  }

  /** Stops taking work, lets the transaction in flight finish or abort, and disconnects. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer?.disconnect();
    await Promise.all([...this.workers.keys()].map((key) => this.retire(key, 'shutdown')));
  }

  private async retire(key: string, why: string): Promise<void> {
    const worker = this.workers.get(key);
    this.workers.delete(key);
    if (!worker) return;
    try {
      const w = await worker;
      await w.producer.disconnect();
      this.options.logger.debug({ topic: w.topic, partition: w.partition, why }, 'partition worker retired');
    } catch {
      // A worker that never started has nothing to close.
    }
  }

  private workerFor(topic: string, partition: number): Promise<Worker> {
    const key = `${topic}:${partition}`;
    let worker = this.workers.get(key);
    if (worker === undefined) {
      worker = this.startWorker(topic, partition);
      worker.catch(() => this.workers.delete(key));
      this.workers.set(key, worker);
    }
    return worker;
  }

  private async startWorker(topic: string, partition: number): Promise<Worker> {
    const { kafka, codec, logger } = this.options;
    const route = this.byCommandTopic.get(topic);
    if (!route) throw new Error(`no aggregate reads ${topic}`);
    const started = Date.now();
    const producer = kafka.producer({
      transactionalId: `${this.groupId}.${topic}.${partition}`,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: 60_000,
    });
    await producer.connect();
    // The first transaction initialises the producer id: this is what fences a
    // zombie owner of the partition and aborts whatever it left open.
    const fence = await producer.transaction();
    await fence.abort();

    const entries = new Map<string, AggregateEntry>();
    const { records } = await readToEnd(kafka, [{ topic: route.topics.snapshots, partitions: [partition] }], async ({ message }) => {
      const id = message.key?.toString() ?? '';
      if (message.value === null) {
        entries.delete(id);
        return;
      }
      const decoded = await codec.decode(message.value);
      const snapshot = decoded.value as { recentCommands?: CommandReply[] };
      const restored = route.runtime.fromSnapshot(snapshot);
      entries.set(restored.aggregateId, { version: restored.version, state: restored.state, recentCommands: snapshot.recentCommands ?? [] });
    });

    const admin = kafka.admin();
    await admin.connect();
    let floor = -1;
    try {
      const committed = await admin.fetchOffsets({ groupId: this.groupId, topics: [topic] });
      floor = Number(committed[0]?.partitions.find((p) => p.partition === partition)?.offset ?? -1);
    } finally {
      await admin.disconnect();
    }
    logger.info(
      { topic, partition, aggregates: entries.size, snapshots: records, ms: Date.now() - started },
      'partition state restored',
    );
    return { topic, partition, runtime: route.runtime, producer, entries, floor };
  }

  private async onBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (this.stopping) return;
    const worker = await this.workerFor(batch.topic, batch.partition);
    const messages = batch.messages.filter((m) => Number(m.offset) >= worker.floor);
    for (let i = 0; i < messages.length; i += this.maxPerTransaction) {
      if (!isRunning() || isStale() || this.stopping) return;
      const chunk = messages.slice(i, i + this.maxPerTransaction);
      try {
        await this.decideInTransaction(worker, chunk);
      } catch (error) {
        // The transaction was aborted: forget this partition's in-memory state and
        // start it again from the snapshots (the consumer re-reads from the last commit).
        await this.retire(`${worker.topic}:${worker.partition}`, 'failed transaction');
        throw error;
      }
      const last = chunk[chunk.length - 1];
      if (last) resolveOffset(last.offset);
      await heartbeat();
    }
    if (messages.length === 0 && batch.messages.length > 0) {
      const last = batch.messages[batch.messages.length - 1];
      if (last) resolveOffset(last.offset);
    }
  }

  private async decideInTransaction(worker: Worker, chunk: readonly KafkaMessage[]): Promise<void> {
    const { codec, logger } = this.options;
    const route = this.byCommandTopic.get(worker.topic);
    if (!route) throw new Error(`no aggregate reads ${worker.topic}`);
    const { runtime, topics } = route;
    const overlay = new Map<string, AggregateEntry>();
    const outcomes: Array<{ handled: Handled; aggregateId: string }> = [];
    const deadLetters: Array<{ message: KafkaMessage; error: Error & { reason?: string } }> = [];

    for (const message of chunk) {
      let fullName: string;
      let value: { metadata: CommandMetadata } & Record<string, unknown>;
      try {
        const decoded = await codec.decode(message.value);
        fullName = decoded.fullName;
        value = decoded.value as typeof value;
        if (!this.commandRecords.has(fullName) || !fullName.startsWith(`${runtime.namespace}.`)) {
          throw new DecodeError('unknown-record', `${fullName} is not a command of ${runtime.aggregate}`);
        }
      } catch (error) {
        if (error instanceof DecodeError) {
          deadLetters.push({ message, error });
          logger.warn({ topic: worker.topic, partition: worker.partition, offset: message.offset, reason: error.reason, err: error }, 'command dead-lettered');
          continue;
        }
        throw error;
      }
      const { metadata, ...data } = value;
      const type = fullName.slice(runtime.namespace.length + 1);
      const current = overlay.get(metadata.aggregateId) ?? worker.entries.get(metadata.aggregateId);
      const handled = handleCommand(runtime, current, { type, data }, metadata, this.clock());
      if (handled.entry !== undefined && !handled.duplicate) overlay.set(metadata.aggregateId, handled.entry);
      outcomes.push({ handled, aggregateId: metadata.aggregateId });
    }

    const eventMessages = await Promise.all(
      outcomes.flatMap(({ handled, aggregateId }) =>
        handled.events.map(async (event) => ({
          key: eventKey(aggregateId, event.version),
          value: await codec.encode(topics.events, `${runtime.namespace}.${event.type}`, event.record),
          partition: worker.partition,
          headers: {
            'event-type': event.type,
            'event-id': event.record.metadata.eventId,
            'correlation-id': event.record.metadata.correlationId,
          } satisfies IHeaders,
        })),
      ),
    );

    const transaction = await worker.producer.transaction();
    try {
      let offset = 0;
      if (eventMessages.length > 0) {
        const [written] = await transaction.send({ topic: topics.events, messages: eventMessages, acks: -1 });
        if (written === undefined || written.partition !== worker.partition) throw new Error('the broker did not report where the events were written');
        offset = Number(written.baseOffset);
      }
      const replies: CommandReply[] = [];
      for (const { handled, aggregateId } of outcomes) {
        if (handled.duplicate || handled.reply.status === 'REJECTED') {
          replies.push(handled.reply);
          continue;
        }
        const reply: CommandReply = {
          ...handled.reply,
          events: handled.events.map((event) => ({
            eventType: event.type,
            aggregateId,
            version: event.version,
            topic: topics.events,
            partition: worker.partition,
            offset: offset++,
          })),
        };
        const entry = overlay.get(aggregateId);
        if (entry) overlay.set(aggregateId, withReply(entry, reply));
        replies.push(reply);
      }

      const repliesPartitions = this.catalog.topic(COMMAND_REPLIES_TOPIC).partitions;
      const snapshotMessages = await Promise.all(
        [...overlay].map(async ([aggregateId, entry]) => {
          const domain = runtime.toSnapshot(aggregateId, entry.version, entry.state);
          return domain === null
            ? null
            : {
                key: aggregateId,
                value: await codec.encode(topics.snapshots, runtime.snapshotRecord, { ...domain, recentCommands: entry.recentCommands }),
                partition: worker.partition,
              };
        }),
      );
      const replyMessages = await Promise.all(
        replies.map(async (reply) => ({
          key: reply.commandId,
          value: await codec.encode(COMMAND_REPLIES_TOPIC, REPLY_RECORD, reply),
          partition: partitionFor(reply.commandId, repliesPartitions),
          headers: { 'reply-status': reply.status },
        })),
      );
      const dlqMessages = deadLetters.map(({ message, error }) => ({
        key: message.key,
        value: message.value,
        partition: worker.partition,
        headers: {
          ...message.headers,
          'dlq-reason': error.reason ?? 'error',
          'dlq-error': error.message.slice(0, 1000),
          'dlq-topic': worker.topic,
          'dlq-partition': String(worker.partition),
          'dlq-offset': message.offset,
          'dlq-consumer-group': this.groupId,
        },
      }));
      await transaction.sendBatch({
        acks: -1,
        topicMessages: [
          { topic: topics.snapshots, messages: snapshotMessages.filter((m) => m !== null) },
          { topic: COMMAND_REPLIES_TOPIC, messages: replyMessages },
          { topic: dlqTopicName(worker.topic), messages: dlqMessages },
        ].filter((t) => t.messages.length > 0),
      });
      const last = chunk[chunk.length - 1];
      if (last) {
        await transaction.sendOffsets({
          consumerGroupId: this.groupId,
          topics: [{ topic: worker.topic, partitions: [{ partition: worker.partition, offset: String(Number(last.offset) + 1) }] }],
        });
      }
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => undefined);
      throw error;
    }
    for (const [id, entry] of overlay) worker.entries.set(id, entry);
  }
}
