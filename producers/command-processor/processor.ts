// The command processor: a consumer group over the aggregates' command topics.
// Partition p of every command topic goes to one member (co-partitioned
// assignment) and there to one PartitionWorker (one per group of
// `partitionsPerWorker` consecutive partition numbers, 1 by default), which
// keeps the aggregates of those partitions in on-disk stores (aggregate-store.ts), caches of the snapshot
// partitions restored by delta, decides their
// commands in order and writes each batch in one Kafka transaction: events,
// snapshots, replies, dead letters and the consumed offsets commit together or
// not at all. See partition-worker.ts for the transaction and the fencing.
import { trackMembership, type Membership } from '../../infra/kafka/membership';
import type { Consumer, EachBatchPayload } from 'kafkajs';
import { COMMAND_REPLIES_TOPIC, TOPIC_PREFIX, topicCatalog, type TopicCatalog } from '../../schemas/topics';
import { coPartitionedAssigner, OwnedPartitions } from '../../infra/kafka/co-partitioned-assigner';
import { CONSUMER_RETRY } from '../../infra/kafka/retry';
import { StaleFoldError } from '../../infra/stateful/partition-state';
import { StateDirectory } from '../../infra/stateful/state-dir';
import { aggregateRuntimes, type AggregateRuntime } from './aggregates';
import { readThrough } from './lane-position';
import { PositionReport } from './position-report';
import { aggregatesHeld, parkedAggregates } from './lane-counts';
import type { CommandProcessorOptions } from './processor-options';
import { PartitionGroups, startWorker } from './worker-start';
import { laneKey, type Lane, type LaneTopics, type WorkerContext } from './lane';
import type { PartitionWorker } from './partition-worker';

/** With another TOPIC_PREFIX, the group (and so its transactional ids and checkpoints) is that topic set's own. */
export const DEFAULT_GROUP = `${TOPIC_PREFIX}.command-processor`;

export type { CommandProcessorOptions } from './processor-options';

/** A partition with this many commands waiting is paused until its worker catches up. */
const MAX_QUEUED = 5_000;

export class CommandProcessor {
  private readonly groupId: string;
  private readonly catalog: TopicCatalog;
  private readonly maxPerTransaction: number;
  private readonly routes = new Map<string, { readonly runtime: AggregateRuntime; readonly topics: LaneTopics }>();
  /** Partition numbers in groups of k, one worker per group. */
  private readonly groups: PartitionGroups;
  /** By partition group (partition number ÷ k): the worker being started, and once started the worker itself. */
  private readonly workers = new Map<number, { readonly starting: Promise<PartitionWorker>; worker?: PartitionWorker }>();
  private readonly context: WorkerContext;
  private consumer: Consumer | undefined;
  private stateDir: StateDirectory | undefined;
  /** Why the processor refuses to decide (snapshots of another fold version); undefined while it does not. */
  private refused: string | undefined;
  private membership: Membership | undefined;
  private stopping = false;
  /** Positions reported to the group coordinator (for lag monitoring; the checkpoints are the truth). */
  private readonly positions: PositionReport;

  constructor(private readonly options: CommandProcessorOptions) {
    this.groupId = options.groupId ?? DEFAULT_GROUP;
    this.catalog = options.catalog ?? topicCatalog();
    this.maxPerTransaction = options.maxPerTransaction ?? 500;
    const commandRecords = new Set<string>();
    for (const runtime of Object.values({ ...aggregateRuntimes(options.context), ...options.aggregates })) {
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
      betweenCommitAndStore: options.betweenCommitAndStore,
    };
    this.groups = new PartitionGroups(options.partitionsPerWorker ?? 1, this.groupId, Math.max(...this.commandTopics.map((topic) => this.catalog.topic(topic).partitions)));
    this.positions = new PositionReport(() => this.consumer, options.logger);
  }

  get commandTopics(): string[] {
    return [...this.routes.keys()];
  }

  /** Aggregates held, by aggregate type: all of those on the partitions owned (on disk), and of them the decoded ones. */
  aggregatesHeld(): Map<string, { held: number; decoded: number }> {
    return aggregatesHeld(this.lanes());
  }

  /** Aggregates parked on the partitions owned, and the commands parked in them, by aggregate type (parking.ts). */
  parkedAggregates(): Map<string, { aggregates: number; commands: number }> {
    return parkedAggregates(this.lanes());
  }

  private *lanes(): Generator<Lane> {
    for (const slot of this.workers.values()) yield* slot.worker?.lanes.values() ?? [];
  }

  async start(): Promise<void> {
    const { kafka, logger } = this.options;
    this.stateDir = StateDirectory.claim(this.options.stateDir, this.groupId);
    // Sticky: after a crash (kafkajs rejoins as a new member) the partitions restored here come back here.
    const owned = new OwnedPartitions();
    const consumer = kafka.consumer({
      groupId: this.groupId,
      partitionAssigners: [coPartitionedAssigner(this.groups.k, owned)],
      readUncommitted: false,
      // Outlasts a node's or the active controller's loss instead of crashing out of the group (client.ts).
      retry: CONSUMER_RETRY,
      // The broker answers a fetch as soon as a command arrives; the wait only
      // bounds how often an idle processor asks.
      maxWaitTimeInMs: 250,
      // A crashed instance's partitions move to the survivors (or its replacement) within ~6 s, the
      // broker's smallest session by default (docs/recovery.md).
      sessionTimeout: 6_000,
      rebalanceTimeout: 20_000,
      heartbeatInterval: 1_000,
      // Commands are decided in order per partition; a big fetch only delays the first reply.
      maxBytesPerPartition: 256 * 1024,
    });
    this.consumer = consumer;
    owned.follow(consumer);
    this.membership = trackMembership(consumer, `group ${this.groupId}`);
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const assigned = new Set(Object.values(payload.memberAssignment).flat());
      const groups = new Set([...assigned].map((partition) => this.groups.groupOf(partition)));
      for (const group of [...this.workers.keys()]) if (!groups.has(group)) void this.retire(group, 'revoked');
      // Restore now rather than when the first command arrives, so that one does not wait for it.
      for (const group of groups) this.workerFor(group).catch((error: unknown) => logger.warn({ err: error, partitions: this.groups.partitionsOf(group) }, 'partition state not restored; retrying with the next command'));
      logger.info({ partitions: [...assigned].sort((a, b) => a - b), partitionsPerWorker: this.groups.k }, 'command processor joined its group');
    });
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      const worker = this.workers.get(this.groups.groupOf(payload.partition))?.worker;
      const lane = worker?.lanes.get(laneKey(payload.topic, payload.partition));
      if (worker !== undefined && lane !== undefined && !worker.retired && this.positions.readPast(lane, payload)) this.positions.note(worker.lanes);
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
    this.positions.start();
    // Ready once the partitions assigned at the first join are restored (a later rebalance restores in the background).
    await Promise.allSettled([...this.workers.values()].map((slot) => slot.starting));
  }

  /** Undefined while the consumer has its assignment and its partitions' state is restored; else why not (for readiness). */
  notReady(): string | undefined {
    if (this.refused !== undefined) return this.refused;
    if (this.membership === undefined) return `group ${this.groupId}: not started`;
    const restoring = [...this.workers.entries()].filter(([, slot]) => slot.worker === undefined).map(([group]) => group);
    return this.membership.notReady() ?? (restoring.length > 0 ? `group ${this.groupId}: restoring partitions ${restoring.flatMap((g) => this.groups.partitionsOf(g)).join(', ')}` : undefined);
  }

  /** Why the consumer will never consume again (kafkajs did not restart it after a crash); undefined while it may. */
  broken(): string | undefined {
    return this.refused ?? this.membership?.broken();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const workers = await Promise.all([...this.workers.values()].map((slot) => slot.starting.catch(() => undefined)));
    for (const w of workers) if (w) w.retired = true; // queued commands stay uncommitted for the next owner
    await Promise.all(workers.map((w) => w?.running));
    await this.positions.stop();
    await this.consumer?.disconnect();
    await Promise.all([...this.workers.keys()].map((group) => this.retire(group, 'shutdown')));
    this.stateDir?.release();
  }

  private async retire(group: number, why: string): Promise<void> {
    const slot = this.workers.get(group);
    this.workers.delete(group);
    if (!slot) return;
    try {
      const w = await slot.starting;
      w.retired = true; // its loop stops before the next transaction
      this.resumePaused(w, () => true);
      await w.running?.catch(() => undefined);
      // Closed, not deleted: if the partitions come back, only the snapshot partitions' delta is read.
      w.close();
      await w.producer.disconnect();
      this.options.logger.debug({ partitions: w.partitions, why }, 'partition worker retired');
    } catch {
      // A worker that never started has nothing to close.
    }
  }

  private workerFor(group: number): Promise<PartitionWorker> {
    const existing = this.workers.get(group);
    if (existing !== undefined) return existing.starting;
    // Refused (snapshots of another fold version): takes on nothing until an operator rebuilds; no store is opened (or filled) again.
    if (this.refused !== undefined) return Promise.reject(new StaleFoldError(this.refused));
    const slot: { starting: Promise<PartitionWorker>; worker?: PartitionWorker } = {
      starting: this.startWorker(group).then(
        (worker) => {
          this.positions.note(worker.lanes); // the group's offsets catch up with the checkpoints even before the next commit
          // Read from the checkpoints, whatever the group's offsets say: the markers after them too, so the
          // report moves past those (lane-position.ts). Batches fetched before are dropped as stale.
          for (const lane of worker.lanes.values()) this.rewind(lane, lane.committed);
          return (slot.worker = worker);
        },
        (error: unknown) => {
          if (this.workers.get(group) === slot) this.workers.delete(group);
          throw error;
        },
      ),
    };
    this.workers.set(group, slot);
    return slot.starting;
  }

  /** Resumes the worker's paused partitions whose queue `shouldResume`. */
  private resumePaused(worker: PartitionWorker, shouldResume: (queued: number) => boolean): void {
    for (const lane of worker.lanes.values()) {
      if (lane.paused && shouldResume(lane.queue.length)) {
        lane.paused = false;
        this.consumer?.resume([{ topic: lane.topics.commands, partitions: [lane.partition] }]);
      }
    }
  }

  private async startWorker(group: number): Promise<PartitionWorker> {
    const stateDir = this.stateDir?.path;
    if (stateDir === undefined) throw new Error('the command processor is not started');
    const o = this.options;
    try {
      return await startWorker(
        { ...o, catalog: this.catalog, groupId: this.groupId, routes: this.routes, context: this.context, stateDir, changelogEpoch: o.changelogEpoch ?? '1' },
        this.groups,
        group,
      );
    } catch (error) {
      if (error instanceof StaleFoldError) {
        this.refused = error.message;
        o.logger.fatal({ err: error }, 'refusing to decide on snapshots of another fold version');
      }
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
    const worker = await this.workerFor(this.groups.groupOf(batch.partition));
    const lane = worker.lanes.get(laneKey(batch.topic, batch.partition));
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
    // Every command of the batch is queued; its last offset counts a trailing transaction marker too.
    readThrough(lane, Number(batch.firstOffset() ?? last.offset), Number(batch.lastOffset()));
    resolveOffset(last.offset);
    if (lane.queue.length > MAX_QUEUED && !lane.paused) {
      lane.paused = true;
      this.consumer?.pause([{ topic: batch.topic, partitions: [batch.partition] }]);
    }
    worker.running ??= this.drain(worker).finally(() => {
      worker.running = undefined;
    });
  }

  /** Sends the consumer of a lane's partition to `offset`. */
  private rewind(lane: Lane, offset: number): void {
    try {
      this.consumer?.seek({ topic: lane.topics.commands, partition: lane.partition, offset: String(offset) });
    } catch (seekError) {
      this.options.logger.error({ err: seekError, topic: lane.topics.commands, partition: lane.partition }, 'could not rewind the consumer; the partition resumes after a rebalance');
    }
  }

  private async drain(worker: PartitionWorker): Promise<void> {
    try {
      await worker.drain(this.maxPerTransaction, () => {
        this.resumePaused(worker, (queued) => queued < MAX_QUEUED / 4);
        this.positions.note(worker.lanes);
      });
    } catch (error) {
      // The transaction was aborted: forget this partition's state (a new worker
      // restores it from the snapshots) and read again from the last commits.
      // All of this happens before the next await, so no batch fetched before
      // the seek reaches a new worker (kafkajs marks such batches stale).
      worker.retired = true;
      worker.close();
      if (error instanceof StaleFoldError) {
        // A stored snapshot of another fold version (a store a refused build was killed while filling): never decided on.
        this.refused = error.message;
        this.options.logger.fatal({ err: error }, 'refusing to decide on snapshots of another fold version');
      }
      this.options.logger.error({ err: error, partitions: worker.partitions }, 'transaction failed; restarting the partitions from their last commit');
      const group = this.groups.groupOf(worker.partitions[0] ?? 0);
      if (this.workers.get(group)?.worker === worker) this.workers.delete(group);
      for (const lane of worker.lanes.values()) this.rewind(lane, lane.committed);
      this.resumePaused(worker, () => true);
      await worker.producer.disconnect().catch(() => undefined);
    }
  }
}
