// The command processor: a consumer group over the aggregates' command topics.
// Partition p of every command topic goes to one member (co-partitioned
// assignment) and there to one PartitionWorker, which keeps the aggregates of
// those partitions in memory, restored from the snapshot topics, decides their
// commands in order and writes each batch in one Kafka transaction: events,
// snapshots, replies, dead letters and the consumed offsets commit together or
// not at all. See partition-worker.ts for the transaction and the fencing.
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { CommandCheckpoint } from '../../schemas/generated/types';
import { COMMAND_REPLIES_TOPIC, topicCatalog, type TopicCatalog } from '../../schemas/topics';
import type { AvroCodec } from '../../infra/kafka/codec';
import { CoPartitionedAssigner } from '../../infra/kafka/co-partitioned-assigner';
import { readToEnd } from '../../infra/kafka/read-to-end';
import { fencedProducer } from '../../infra/kafka/transactions';
import type { Logger } from '../../infra/logging';
import { aggregateRuntimes, type AggregateRuntime, type ProcessorContext } from './aggregates';
import { AggregateStore } from './aggregate-store';
import type { CommandProcessorMetrics } from './metrics';
import { CHECKPOINT_KEY_PREFIX, CHECKPOINT_RECORD, checkpointKey, PartitionWorker, type Lane, type LaneTopics, type WorkerContext } from './partition-worker';

export const DEFAULT_GROUP = 'restaurant.command-processor';

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
  /** Told about every committed and failed transaction (metrics.ts). */
  readonly metrics?: CommandProcessorMetrics;
}

/** A partition with this many commands waiting is paused until its worker catches up. */
const MAX_QUEUED = 5_000;

export class CommandProcessor {
  private readonly groupId: string;
  private readonly catalog: TopicCatalog;
  private readonly maxPerTransaction: number;
  private readonly routes = new Map<string, { readonly runtime: AggregateRuntime; readonly topics: LaneTopics }>();
  /** By partition number: the worker being started, and once started the worker itself. */
  private readonly workers = new Map<number, { readonly starting: Promise<PartitionWorker>; worker?: PartitionWorker }>();
  private readonly context: WorkerContext;
  private consumer: Consumer | undefined;
  private stopping = false;
  /** Positions to report to the group coordinator (for lag monitoring; the checkpoints are the truth). */
  private readonly toReport = new Map<string, { topic: string; partition: number; offset: string }>();
  private reportTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: CommandProcessorOptions) {
    this.groupId = options.groupId ?? DEFAULT_GROUP;
    this.catalog = options.catalog ?? topicCatalog();
    this.maxPerTransaction = options.maxPerTransaction ?? 500;
    const commandRecords = new Set<string>();
    for (const runtime of Object.values(aggregateRuntimes(options.context))) {
      const t = this.catalog.forAggregate(runtime.aggregate);
      if (!t.commands || !t.events || !t.snapshots) throw new Error(`the catalog lacks topics for ${runtime.aggregate}`);
      this.routes.set(t.commands.name, { runtime, topics: { commands: t.commands.name, events: t.events.name, snapshots: t.snapshots.name } });
      t.commands.subjects.forEach((s) => commandRecords.add(s.recordName));
    }
    this.context = {
      codec: options.codec,
      logger: options.logger,
      groupId: this.groupId,
      clock: options.clock ?? Date.now,
      repliesPartitions: this.catalog.topic(COMMAND_REPLIES_TOPIC).partitions,
      commandRecords,
      metrics: options.metrics,
    };
  }

  get commandTopics(): string[] {
    return [...this.routes.keys()];
  }

  /** Aggregates held in memory, by aggregate type: all of those on the partitions owned, and of them the decoded ones. */
  aggregatesHeld(): Map<string, { held: number; decoded: number }> {
    const out = new Map<string, { held: number; decoded: number }>();
    for (const slot of this.workers.values()) {
      for (const lane of slot.worker?.lanes.values() ?? []) {
        const counts = out.get(lane.runtime.aggregate) ?? { held: 0, decoded: 0 };
        out.set(lane.runtime.aggregate, { held: counts.held + lane.entries.size, decoded: counts.decoded + lane.entries.decodedSize });
      }
    }
    return out;
  }

  async start(): Promise<void> {
    const { kafka, logger } = this.options;
    const consumer = kafka.consumer({
      groupId: this.groupId,
      partitionAssigners: [CoPartitionedAssigner],
      readUncommitted: false,
      // The broker answers a fetch as soon as a command arrives; the wait only
      // bounds how often an idle processor asks.
      maxWaitTimeInMs: 250,
      // A crashed instance's partitions move to the survivors within ~10 s.
      sessionTimeout: 10_000,
      rebalanceTimeout: 20_000,
      heartbeatInterval: 1_000,
      // Commands are decided in order per partition; a big fetch only delays the first reply.
      maxBytesPerPartition: 256 * 1024,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const assigned = new Set(Object.values(payload.memberAssignment).flat());
      for (const partition of [...this.workers.keys()]) if (!assigned.has(partition)) void this.retire(partition, 'revoked');
      // Restore now rather than when the first command arrives, so that one does not wait for it.
      for (const partition of assigned) this.workerFor(partition).catch((error: unknown) => logger.warn({ err: error, partition }, 'partition state not restored; retrying with the next command'));
      logger.info({ partitions: [...assigned].sort((a, b) => a - b) }, 'command processor joined its group');
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      logger.error({ err: payload.error, restart: payload.restart }, 'command processor consumer crashed');
    });
    await consumer.connect();
    await consumer.subscribe({ topics: this.commandTopics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      // eachBatch only queues; a partition whose worker is still restoring must not hold up the others.
      partitionsConsumedConcurrently: this.commandTopics.reduce((n, topic) => n + this.catalog.topic(topic).partitions, 0),
      eachBatch: (payload) => this.onBatch(payload),
    });
    this.reportTimer = setInterval(() => void this.reportPositions(), 1_000);
    this.reportTimer.unref();
    // Ready once the partitions assigned at the first join are restored (a later rebalance restores in the background).
    await Promise.allSettled([...this.workers.values()].map((slot) => slot.starting));
  }

  /** Notes the worker's decided positions for the next report. */
  private report(worker: PartitionWorker): void {
    for (const [topic, lane] of worker.lanes) this.toReport.set(`${topic}:${worker.partition}`, { topic, partition: worker.partition, offset: String(lane.committed) });
  }

  /** Commits the decided positions to the group, outside any transaction: what lag monitoring and kafka-consumer-groups read. */
  private async reportPositions(): Promise<void> {
    if (this.toReport.size === 0 || this.consumer === undefined) return;
    const offsets = [...this.toReport.values()];
    this.toReport.clear();
    try {
      await this.consumer.commitOffsets(offsets);
    } catch (error) {
      // A rebalance in progress, or partitions just revoked: the next owner reports them.
      this.options.logger.debug({ err: error }, 'could not report the decided positions to the group');
    }
  }

  /** Stops taking work, lets the transactions in flight finish or abort, and disconnects. */
  async stop(): Promise<void> {
    this.stopping = true;
    const workers = await Promise.all([...this.workers.values()].map((slot) => slot.starting.catch(() => undefined)));
    for (const w of workers) if (w) w.retired = true; // queued commands stay uncommitted for the next owner
    await Promise.all(workers.map((w) => w?.running));
    clearInterval(this.reportTimer);
    await this.reportPositions();
    await this.consumer?.disconnect();
    await Promise.all([...this.workers.keys()].map((partition) => this.retire(partition, 'shutdown')));
  }

  private async retire(partition: number, why: string): Promise<void> {
    const slot = this.workers.get(partition);
    this.workers.delete(partition);
    if (!slot) return;
    try {
      const w = await slot.starting;
      w.retired = true; // its loop stops before the next transaction
      this.resumePaused(w, () => true);
      await w.running?.catch(() => undefined);
      await w.producer.disconnect();
      this.options.logger.debug({ partition, why }, 'partition worker retired');
    } catch {
      // A worker that never started has nothing to close.
    }
  }

  private workerFor(partition: number): Promise<PartitionWorker> {
    const existing = this.workers.get(partition);
    if (existing !== undefined) return existing.starting;
    const slot: { starting: Promise<PartitionWorker>; worker?: PartitionWorker } = {
      starting: this.startWorker(partition).then(
        (worker) => {
          this.report(worker); // the group's offsets catch up with the checkpoints even before the next commit
          return (slot.worker = worker);
        },
        (error: unknown) => {
          if (this.workers.get(partition) === slot) this.workers.delete(partition);
          throw error;
        },
      ),
    };
    this.workers.set(partition, slot);
    return slot.starting;
  }

  /** Resumes the worker's paused partitions whose queue `shouldResume`. */
  private resumePaused(worker: PartitionWorker, shouldResume: (queued: number) => boolean): void {
    for (const [topic, lane] of worker.lanes) {
      if (lane.paused && shouldResume(lane.queue.length)) {
        lane.paused = false;
        this.consumer?.resume([{ topic, partitions: [worker.partition] }]);
      }
    }
  }

  private async startWorker(partition: number): Promise<PartitionWorker> {
    const { kafka, codec, logger } = this.options;
    const started = Date.now();
    // Fences a zombie owner of the partition and aborts whatever it left open.
    const producer = await fencedProducer(kafka, `${this.groupId}.p${partition}`);
    try {
      const routes = this.commandTopics
        .filter((topic) => partition < this.catalog.topic(topic).partitions)
        .map((topic) => ({ topic, ...(this.routes.get(topic) as { runtime: AggregateRuntime; topics: LaneTopics }) }));
      const stores = new Map(routes.map((r) => [r.topics.snapshots, new AggregateStore(r.runtime, codec)] as const));
      /** By command topic: the position restored with the state. */
      const committed = new Map<string, number>();
      const ownCheckpoint = checkpointKey(this.groupId);
      const { records } = await readToEnd(
        kafka,
        routes.map((r) => ({ topic: r.topics.snapshots, partitions: [partition] })),
        async ({ topic, message }) => {
          const id = message.key?.toString() ?? '';
          const into = stores.get(topic) as AggregateStore;
          if (message.value === null) {
            into.delete(id);
            return;
          }
          // Snapshots are kept as bytes and decoded when a command needs them; only checkpoints are read now.
          if (id.startsWith(CHECKPOINT_KEY_PREFIX)) {
            const decoded = await codec.decode(message.value);
            if (decoded.fullName === CHECKPOINT_RECORD) {
              const checkpoint = decoded.value as CommandCheckpoint;
              if (id === ownCheckpoint) committed.set(checkpoint.commandTopic, checkpoint.nextOffset);
              return;
            }
          }
          into.restore(id, message.value);
        },
      );
      // A partition never checkpointed by this group (or written before checkpoints existed) starts at the group's committed offset.
      const unknown = routes.map((r) => r.topic).filter((topic) => !committed.has(topic));
      if (unknown.length > 0) {
        const admin = kafka.admin();
        await admin.connect();
        try {
          for (const group of await admin.fetchOffsets({ groupId: this.groupId, topics: unknown })) {
            const offset = Number(group.partitions.find((p) => p.partition === partition)?.offset ?? -1);
            committed.set(group.topic, Math.max(offset, 0));
          }
        } finally {
          await admin.disconnect();
        }
      }
      const lanes = new Map<string, Lane>(
        routes.map((r) => [
          r.topic,
          {
            runtime: r.runtime,
            topics: r.topics,
            entries: stores.get(r.topics.snapshots) as AggregateStore,
            queue: [],
            // Offsets below the committed one were decided (possibly by a previous owner) after our consumer fetched them.
            queuedUpTo: committed.get(r.topic) ?? 0,
            committed: committed.get(r.topic) ?? 0,
            nextEventOffset: undefined,
            paused: false,
          },
        ]),
      );
      logger.info(
        { partition, aggregates: [...lanes.values()].reduce((n, l) => n + l.entries.size, 0), snapshots: records, ms: Date.now() - started },
        'partition state restored',
      );
      return new PartitionWorker(partition, producer, lanes, this.context);
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw error;
    }
  }

  /**
   * kafkajs fetches again only once every batch of the last fetch has been handled,
   * so deciding inside eachBatch would make each command wait for the slowest
   * partition's transaction. Instead a batch is queued on its worker and
   * eachBatch returns at once; each worker runs its own loop of "everything
   * queued → one transaction". kafkajs's own position may run ahead: offsets are
   * committed only inside the transactions, and after a failed transaction the
   * consumer is sent back to the last committed offsets.
   */
  private async onBatch({ batch, resolveOffset, isStale }: EachBatchPayload): Promise<void> {
    if (this.stopping) return;
    const worker = await this.workerFor(batch.partition);
    const lane = worker.lanes.get(batch.topic);
    const last = batch.messages[batch.messages.length - 1];
    // Retired, or fetched before the consumer was sent back to the last commit: the re-fetch brings these again.
    if (worker.retired || isStale() || lane === undefined || last === undefined) return;
    if (Number(last.offset) < lane.queuedUpTo) {
      // All decided already: the group's offsets trail the checkpoint (or were reset). Jump to it.
      this.consumer?.seek({ topic: batch.topic, partition: batch.partition, offset: String(lane.queuedUpTo) });
      return;
    }
    for (const m of batch.messages) if (Number(m.offset) >= lane.queuedUpTo) lane.queue.push(m);
    lane.queuedUpTo = Math.max(lane.queuedUpTo, Number(last.offset) + 1);
    resolveOffset(last.offset);
    if (lane.queue.length > MAX_QUEUED && !lane.paused) {
      lane.paused = true;
      this.consumer?.pause([{ topic: batch.topic, partitions: [batch.partition] }]);
    }
    worker.running ??= this.drain(worker).finally(() => {
      worker.running = undefined;
    });
  }

  private async drain(worker: PartitionWorker): Promise<void> {
    try {
      await worker.drain(this.maxPerTransaction, () => {
        this.resumePaused(worker, (queued) => queued < MAX_QUEUED / 4);
        this.report(worker);
      });
    } catch (error) {
      // The transaction was aborted: forget this partition's state (a new worker
      // restores it from the snapshots) and read again from the last commits.
      // All of this happens before the next await, so no batch fetched before
      // the seek reaches a new worker (kafkajs marks such batches stale).
      worker.retired = true;
      this.options.logger.error({ err: error, partition: worker.partition }, 'transaction failed; restarting the partition from its last commit');
      if (this.workers.get(worker.partition)?.worker === worker) this.workers.delete(worker.partition);
      for (const [topic, lane] of worker.lanes) {
        try {
          this.consumer?.seek({ topic, partition: worker.partition, offset: String(lane.committed) });
        } catch (seekError) {
          this.options.logger.error({ err: seekError, topic }, 'could not rewind the consumer; the partition resumes after a rebalance');
        }
      }
      this.resumePaused(worker, () => true);
      await worker.producer.disconnect().catch(() => undefined);
    }
  }
}
