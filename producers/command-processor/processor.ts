// The command processor: a consumer group over the aggregates' command topics.
// For each partition it owns it keeps the aggregates' state in memory, restored
// from the snapshot topic, and decides that partition's commands in order. Each
// batch is one Kafka transaction: events, snapshots, replies, dead letters and
// the consumed offsets commit together or not at all.
//
// Zombie fencing: the transactional id is bound to the input partition
// (`<group>.<topic>.<partition>`), so a new owner's first transaction fences the
// previous owner and aborts its open transaction before state is restored.
import { performance } from 'node:perf_hooks';
import type { Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
import type { CommandMetadata, CommandReply } from '../../schemas/generated/types';
import { eventKey, partitionFor } from '../../schemas/partitioning';
import { COMMAND_REPLIES_TOPIC, dlqTopicName, topicCatalog, type TopicCatalog } from '../../schemas/topics';
import { AvroCodec, DecodeError } from '../../infra/kafka/codec';
import { readToEnd } from '../../infra/kafka/read-to-end';
import { fencedProducer } from '../../infra/kafka/transactions';
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
  /**
   * Where the next event will land in this worker's events partition, when known.
   * The worker is the partition's only writer, so after a transaction that wrote
   * n events from base b the next offset is b + n + 1 (one commit marker). With
   * it, events, snapshots and replies (which carry the events' offsets) go out in
   * one produce request; the broker's answer is checked, and a wrong guess aborts
   * and falls back to writing the events first.
   */
  nextEventOffset: number | undefined;
  /** Commands fetched and not yet decided, in offset order. */
  readonly queue: KafkaMessage[];
  /** The next offset to queue (a re-fetch after a rebalance must not queue twice). */
  queuedUpTo: number;
  /** The offset after the last command committed by this worker (or the group's committed offset). */
  committed: number;
  running: Promise<void> | undefined;
  paused: boolean;
  failed: boolean;
}

/** A partition with this many commands waiting is paused until its worker catches up. */
const MAX_QUEUED = 5_000;

/** The broker put the events elsewhere than this worker expected; the transaction was aborted. */
class OffsetGuessMissed extends Error {
  override readonly name = 'OffsetGuessMissed';
  constructor(
    readonly guessed: number,
    readonly actual: number,
  ) {
    super(`events were expected at offset ${guessed} but landed at ${actual}`);
  }
}

interface WriteInput {
  readonly worker: Worker;
  readonly topics: Topics;
  readonly chunk: readonly KafkaMessage[];
  readonly outcomes: ReadonlyArray<{ readonly handled: Handled; readonly aggregateId: string }>;
  /** Entries after deciding, before the replies (with event offsets) are remembered in them. */
  readonly decided: ReadonlyMap<string, AggregateEntry>;
  readonly deadLetters: ReadonlyArray<{ readonly message: KafkaMessage; readonly error: Error & { reason?: string } }>;
  readonly eventMessages: Message[];
  readonly predicted: number | undefined;
}

interface Written {
  readonly base: number;
  readonly entries: ReadonlyMap<string, AggregateEntry>;
  readonly timing: Readonly<Record<string, number>>;
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

  private get commandPartitions(): number {
    return this.commandTopics.reduce((sum, topic) => sum + this.catalog.topic(topic).partitions, 0);
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
      // Every partition has its own transactional producer, so all of them can
      // commit at once. kafkajs fetches again only when every batch of the last
      // fetch is done, so fewer workers than partitions queue commands behind
      // other partitions' transactions.
      partitionsConsumedConcurrently: this.commandPartitions,
      eachBatch: (payload) => this.onBatch(payload),
    });
  }

  /** Stops taking work, lets the transaction in flight finish or abort, and disconnects. */
  async stop(): Promise<void> {
    this.stopping = true;
    // Let each partition's transaction in flight commit or abort; queued commands stay uncommitted for the next owner.
    const workers = await Promise.all([...this.workers.values()].map((w) => w.catch(() => undefined)));
    await Promise.all(workers.map((w) => w?.running));
    await this.consumer?.disconnect();
    await Promise.all([...this.workers.keys()].map((key) => this.retire(key, 'shutdown')));
  }

  private async retire(key: string, why: string): Promise<void> {
    const worker = this.workers.get(key);
    this.workers.delete(key);
    if (!worker) return;
    try {
      const w = await worker;
      w.failed = true; // its loop stops before the next transaction
      w.queue.length = 0;
      await w.running?.catch(() => undefined);
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
    // Fences a zombie owner of the partition and aborts whatever it left open.
    const producer = await fencedProducer(kafka, `${this.groupId}.${topic}.${partition}`);

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
    return {
      topic,
      partition,
      runtime: route.runtime,
      producer,
      entries,
      floor,
      nextEventOffset: undefined,
      queue: [],
      queuedUpTo: 0,
      committed: Math.max(floor, 0),
      running: undefined,
      paused: false,
      failed: false,
    };
  }

  /**
   * kafkajs fetches again only once every batch of the last fetch has been handled,
   * so deciding inside eachBatch would make each command wait for the slowest
   * partition's transaction. Instead a batch is queued on its partition's worker
   * and eachBatch returns at once; each worker runs its own loop of "everything
   * queued → one transaction". kafkajs's own position may run ahead: offsets are
   * committed only inside the transactions, and after a failed transaction the
   * consumer is sent back to the last committed offset.
   */
  private async onBatch({ batch, resolveOffset }: EachBatchPayload): Promise<void> {
    if (this.stopping) return;
    const worker = await this.workerFor(batch.topic, batch.partition);
    const last = batch.messages[batch.messages.length - 1];
    if (worker.failed) return; // retired; the consumer has been sent back
    worker.queue.push(...batch.messages.filter((m) => Number(m.offset) >= worker.floor && Number(m.offset) >= worker.queuedUpTo));
    if (last) {
      worker.queuedUpTo = Number(last.offset) + 1;
      resolveOffset(last.offset);
    }
    if (worker.queue.length > MAX_QUEUED && !worker.paused) {
      worker.paused = true;
      this.consumer?.pause([{ topic: worker.topic, partitions: [worker.partition] }]);
    }
    worker.running ??= this.drain(worker).finally(() => {
      worker.running = undefined;
    });
  }

  private async drain(worker: Worker): Promise<void> {
    while (worker.queue.length > 0 && !worker.failed && !this.stopping) {
      const chunk = worker.queue.splice(0, this.maxPerTransaction);
      try {
        await this.decideInTransaction(worker, chunk);
        const last = chunk[chunk.length - 1];
        if (last) worker.committed = Number(last.offset) + 1;
      } catch (error) {
        // The transaction was aborted: forget this partition's state (it is restored
        // from the snapshots) and read again from the last committed offset.
        worker.failed = true;
        worker.queue.length = 0;
        this.options.logger.error({ err: error, topic: worker.topic, partition: worker.partition }, 'transaction failed; restarting the partition from its last commit');
        this.workers.delete(`${worker.topic}:${worker.partition}`);
        await worker.producer.disconnect().catch(() => undefined);
        try {
          this.consumer?.seek({ topic: worker.topic, partition: worker.partition, offset: String(worker.committed) });
        } catch (seekError) {
          this.options.logger.error({ err: seekError }, 'could not rewind the consumer; the partition resumes after a rebalance');
        }
        break;
      }
      if (worker.paused && worker.queue.length < MAX_QUEUED / 4) {
        worker.paused = false;
        this.consumer?.resume([{ topic: worker.topic, partitions: [worker.partition] }]);
      }
    }
  }

  private async decideInTransaction(worker: Worker, chunk: readonly KafkaMessage[]): Promise<void> {
    const { codec, logger } = this.options;
    const t0 = performance.now();
    const waited = Date.now() - Number(chunk[0]?.timestamp ?? Date.now());
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

    const tDecided = performance.now();
    const write = (predicted: number | undefined) =>
      this.writeTransaction({ worker, topics, chunk, outcomes, decided: overlay, deadLetters, eventMessages, predicted });
    let written: Written;
    try {
      written = await write(worker.nextEventOffset);
    } catch (error) {
      worker.nextEventOffset = undefined;
      if (!(error instanceof OffsetGuessMissed)) throw error;
      logger.info({ topic: topics.events, partition: worker.partition, guessed: error.guessed, actual: error.actual }, 'event offset guess missed; writing the events first');
      written = await write(undefined);
    }
    for (const [id, entry] of written.entries) worker.entries.set(id, entry);
    if (eventMessages.length > 0) worker.nextEventOffset = written.base + eventMessages.length + 1;
    logger.debug(
      { topic: worker.topic, partition: worker.partition, commands: chunk.length, waitedMs: waited, decideMs: Math.round(tDecided - t0), ...written.timing },
      'transaction committed',
    );
  }

  /**
   * One transaction: events, snapshots (state + recent replies), replies, dead
   * letters and the consumed offsets. With a guessed base offset everything goes
   * in one produce request and the guess is checked against the broker's answer;
   * without one, the events are written first to learn their offsets.
   */
  private async writeTransaction(w: WriteInput): Promise<Written> {
    const { worker, topics, chunk, outcomes, decided, deadLetters, eventMessages, predicted } = w;
    const { codec } = this.options;
    const runtime = worker.runtime;
    const entries = new Map(decided);
    const marks: number[] = [performance.now()];
    const transaction = await worker.producer.transaction();
    try {
      let base = predicted ?? 0;
      if (predicted === undefined && eventMessages.length > 0) {
        const [events] = await transaction.send({ topic: topics.events, messages: eventMessages, acks: -1 });
        if (events === undefined || events.partition !== worker.partition) throw new Error('the broker did not report where the events were written');
        base = Number(events.baseOffset);
      }
      marks.push(performance.now());
      let offset = base;
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
        const entry = entries.get(aggregateId);
        if (entry) entries.set(aggregateId, withReply(entry, reply));
        replies.push(reply);
      }

      const repliesPartitions = this.catalog.topic(COMMAND_REPLIES_TOPIC).partitions;
      const snapshotMessages = await Promise.all(
        [...entries].map(async ([aggregateId, entry]) => {
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
      const sent = await transaction.sendBatch({
        acks: -1,
        topicMessages: [
          ...(predicted !== undefined ? [{ topic: topics.events, messages: eventMessages }] : []),
          { topic: topics.snapshots, messages: snapshotMessages.filter((m) => m !== null) },
          { topic: COMMAND_REPLIES_TOPIC, messages: replyMessages },
          { topic: dlqTopicName(worker.topic), messages: dlqMessages },
        ].filter((t) => t.messages.length > 0),
      });
      if (predicted !== undefined && eventMessages.length > 0) {
        const events = sent.find((r) => r.topicName === topics.events && r.partition === worker.partition);
        const actual = Number(events?.baseOffset);
        if (actual !== predicted) throw new OffsetGuessMissed(predicted, actual);
      }
      marks.push(performance.now());
      const last = chunk[chunk.length - 1];
      if (last) {
        await transaction.sendOffsets({
          consumerGroupId: this.groupId,
          topics: [{ topic: worker.topic, partitions: [{ partition: worker.partition, offset: String(Number(last.offset) + 1) }] }],
        });
      }
      marks.push(performance.now());
      await transaction.commit();
      marks.push(performance.now());
      const span = (i: number): number => Math.round((marks[i + 1] ?? 0) - (marks[i] ?? 0));
      return { base, entries, timing: { eventsMs: span(0), restMs: span(1), offsetsMs: span(2), commitMs: span(3) } };
    } catch (error) {
      await transaction.abort().catch(() => undefined);
      throw error;
    }
  }
}
