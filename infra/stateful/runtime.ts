// The stateful runtime (docs/stateful-runtime.md): runs a StatefulDefinition
// (definition.ts) on Kafka with exactly-once effects and its state on disk;
// or several, as parts of each task sharing its producer and transactions,
// each with its own inputs, changelog and store (runtime-parts.ts).
//
//   consume (EventConsumer: header skip, decode, DLQ) → pure decide(input, state)
//   → ONE Kafka transaction per partition and round: emitted messages, the new
//     state of every changed key (compacted changelog, stamped with the fold
//     version), dead letters, and the consumed positions (sendOffsets, or
//     checkpoint records in the changelog: position-store.ts)
//   → after the commit, the new states and the changelog offset into the
//     partition's on-disk store (partition-state.ts).
//
// Ownership is per partition number p ("task"): the co-partitioned assigner
// gives one member partition p of every input topic; the task's transactional
// id `<group>.<p>` fences any previous owner; on assignment the task opens its
// store and applies only what the changelog holds past it (load.ts), reads the
// group's committed offsets (records below them were committed by someone,
// perhaps a fenced zombie, and are skipped), then schedules the stored
// deadlines. With `partitionsPerTask` k, the tasks of k consecutive numbers
// share one producer and their rounds its transactions (task-group.ts). The restore runs while the consumer heartbeats (the EventConsumer
// takes on an assignment outside its batches). Tasks are made by
// task-restore.ts, the consumer by runtime-consumer.ts; the per-task queue and
// rounds are task-loop.ts; deadlines deadline-scheduler.ts.
import type { Admin } from 'kafkajs';
import { topicCatalog } from '../../schemas/topics';
import type { EventConsumer } from '../consuming/event-consumer';
import type { BatchSink, PartitionBatch } from '../consuming/batch-sink';
import type { Logger } from '../logging';
import { DeadlineScheduler } from './deadline-scheduler';
import { assignedIn } from './fencing';
import type { StatefulDefinition } from './definition';
import { StateDirectory } from './state-dir';
import { TaskLoop } from './task-loop';
import { TaskDeadlines } from './task-deadlines';
import { parkedOf, statsOf } from './runtime-stats';
import { PartitionRevoked, zeroCounts, type Task } from './task';
import type { StatefulStats } from './stats';
import type { ParkedProcess } from './parking';
import { positionStore, type PositionStore, type PositionsMode } from './position-store';
import { sequencingOf } from './sequenced-round';
import { consumerRouting, groupKeyedOf, partsOf, runtimeParts, type AnyRuntimeOptions, type RuntimePart } from './runtime-parts';
import { FetchQueue, fetchLimits } from './fetch-queue';
import { runtimeConsumer } from './runtime-consumer';
import { TaskRestore } from './task-restore';
import { LagReport } from './lag-report';
import { taskGroupsOf } from './task-group';

export type { StatefulRuntimeOptions } from './runtime-options';
export { statefulPart, type PartsRuntimeOptions, type StatefulPart } from './runtime-parts';

export class StatefulRuntime<S, I> implements BatchSink {
  readonly writesDeadLetters = true;
  /** With the decoupled fetch, `write` only queues the batch (docs/stateful-runtime.md "Decoupled fetch"). */
  readonly queues: boolean;
  readonly groupId: string;
  readonly consumer: EventConsumer;
  /** For logs and stats: the definition's name, or the parts'. */
  readonly name: string;
  /** The definitions (parts) each task runs; one unless given `parts` (runtime-parts.ts). */
  private readonly definitions: ReadonlyArray<StatefulDefinition<S, I>>;
  private readonly clock: () => number;
  private readonly log: Logger;
  private readonly inputs: readonly string[];
  /** The inputs plus the parked topic when parking (operators' requests arrive there). */
  private readonly consumed: readonly string[];
  private readonly tasks = new Map<number, Task<S>>();
  private readonly scheduler: DeadlineScheduler<Task<S>>;
  private readonly loop: TaskLoop<S, I>;
  private readonly fetch: FetchQueue<S> | undefined;
  private readonly deadlines: TaskDeadlines<S>;
  private readonly positionsMode: PositionsMode;
  private readonly restore: TaskRestore<S>;
  /** Changelog positions, decoupled fetch: the group's offsets come from the tasks' committed positions (lag-report.ts). */
  private readonly lagReport: LagReport<S> | undefined;
  private admin: Admin | undefined;
  private stateDir: StateDirectory | undefined;
  private stopping = false;
  /** Why the runtime refuses to decide (states of another fold version); undefined while it does not. */
  private refused: string | undefined;
  private readonly emittedByType = new Map<string, number>();
  private readonly counts = zeroCounts();

  constructor(private readonly options: AnyRuntimeOptions<S, I>) {
    const catalog = options.catalog ?? topicCatalog();
    const physical = (topic: string): string => options.topicMap?.[topic] ?? topic;
    const given = partsOf(options);
    this.name = 'parts' in options ? (options.name ?? given.map((p) => p.definition.name).join('+')) : options.definition.name;
    this.clock = options.clock ?? Date.now;
    this.groupId = options.groupId;
    this.log = options.logger.child({ component: 'stateful-runtime', definition: this.name });
    const { parts, partitions, positions: mode } = runtimeParts<S, I>(this.name, given, { catalog, physical, codec: options.codec, groupId: options.groupId, clock: this.clock });
    this.definitions = parts.map((p) => p.definition);
    this.inputs = parts.flatMap((p) => p.inputs);
    this.consumed = parts.flatMap((p) => p.consumed);
    const positionsOf = (part: RuntimePart<S, I>): PositionStore =>
      positionStore({ mode, admin: () => this.started().admin, codec: options.codec, groupId: this.groupId, inputs: part.consumed, changelog: part.ctx.changelog.logical, foldVersion: part.foldVersion, ...groupKeyedOf(part) });
    const loopParts = parts.map((part) => ({ ctx: part.ctx, consumed: part.consumed, positions: positionsOf(part), foldVersion: part.foldVersion }));
    this.positionsMode = mode;
    this.deadlines = new TaskDeadlines<S>(this.definitions as ReadonlyArray<StatefulDefinition<S, unknown>>, () => this.scheduler, this.counts);
    this.scheduler = new DeadlineScheduler<Task<S>>({
      clock: this.clock,
      log: this.log,
      inputs: this.inputs,
      inputsOf: (part) => parts[part]?.inputs ?? this.inputs,
      task: (partition) => this.tasks.get(partition),
      pending: (task, entry) => this.deadlines.pending(task, entry),
      submit: (task, due) => this.loop.submit(task, { kind: 'deadlines', due }),
      admin: () => this.admin,
    });
    this.queues = options.decoupledFetch ?? process.env.STATEFUL_DECOUPLED_FETCH !== '0';
    this.fetch = !this.queues
      ? undefined
      : new FetchQueue<S>({
          log: this.log,
          limits: fetchLimits(options.fetchLimits),
          topics: this.consumed,
          consumer: () => this.consumer,
          kick: (task) => this.loop.keepDraining(task),
          restore: (task) => this.loop.submit(task, { kind: 'flush' }),
          stopping: () => this.stopping,
        });
    this.loop = new TaskLoop(loopParts, {
      log: this.log,
      groupId: this.groupId,
      offsetFlushMs: options.offsetFlushMs ?? 1_000,
      counts: this.counts,
      emittedByType: this.emittedByType,
      clock: this.clock,
      ...sequencingOf(this.definitions, { codec: options.codec, catalog, physical }),
      scheduler: this.scheduler,
      stopping: () => this.stopping,
      reload: (task) => this.restore.reload(task),
      owned: (task) => this.owned(task),
      replaced: (task, part, id, before, after, trace) => this.deadlines.replaced(task, part, id, before, after, trace),
      unparked: (task, part, id) => this.deadlines.unparked(task, part, id),
      ...(options.betweenCommitAndStore === undefined ? {} : { betweenCommitAndStore: options.betweenCommitAndStore }),
      ...(options.onTransactionCommitted === undefined ? {} : { transactionCommitted: options.onTransactionCommitted }),
      ...(this.fetch === undefined ? {} : { queue: this.fetch }),
    });
    const groups = taskGroupsOf(options, this.log, partitions);
    this.restore = new TaskRestore<S>({
      settings: groups === undefined ? options : { ...options, producerFor: (partition) => groups.producerFor(partition) },
      log: this.log,
      groupId: this.groupId,
      parts: parts.map((part, k) => ({
        definition: part.definition as StatefulDefinition<S, unknown>,
        inputs: part.consumed,
        changelog: part.ctx.changelog.physical,
        ...(part.ctx.parking === undefined ? {} : { parked: part.ctx.parking.physical }),
        positions: loopParts[k]?.positions as PositionStore,
      })),
      counts: this.counts,
      scheduler: this.scheduler,
      deadlines: this.deadlines,
      started: () => this.started(),
      refuse: (why) => {
        this.refused = why;
      },
    });
    this.lagReport = mode === 'changelog' && this.queues ? new LagReport<S>({ log: this.log, tasks: () => this.tasks.values(), commit: (offsets) => this.consumer.commitOffsets(offsets) }) : undefined;
    this.consumer = runtimeConsumer(options, {
      sink: this,
      log: this.log,
      topics: this.consumed,
      ...consumerRouting(parts),
      partitions,
      partitionsPerTask: groups?.k ?? 1,
      lagReportOnly: mode === 'changelog' && this.lagReport === undefined,
      onProgress: ({ topic, partition, position }) => this.progressed(topic, partition, position),
    });
  }

  /** Undefined while the runtime's consumer has its assignment and has restored it; else why not (for readiness). */
  notReady(): string | undefined {
    return this.refused ?? this.consumer.notReady();
  }

  /** Why the runtime will not decide again without an operator (kafkajs gave up, or states of another fold version); undefined while it may. */
  broken(): string | undefined {
    return this.refused ?? this.consumer.broken();
  }

  async start(): Promise<void> {
    for (const definition of this.definitions) await definition.start?.();
    this.stateDir = StateDirectory.claim(this.options.stateDir, this.groupId);
    const admin = this.options.kafka.admin();
    await admin.connect();
    this.admin = admin;
    await this.consumer.start();
    this.lagReport?.start();
  }

  /** Stops taking work, lets the transaction in flight commit or abort, commits what was decided, closes the stores, disconnects. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.scheduler.stop();
    // kafkajs's disconnect waits for the batches in flight, which wait for their transaction. With the decoupled fetch
    // they do not: the rounds in flight commit first, while this member still holds the partitions (queued work is dropped).
    if (this.fetch !== undefined) await Promise.all([...this.tasks.values()].map((task) => task.draining?.catch(() => undefined)));
    // The lag report's last: the offsets of rounds that wrote nothing committed, then reported while still in the group.
    await this.lagReport?.stop(() => Promise.all([...this.tasks.values()].map((task) => this.flushLast(task))));
    await this.consumer.stop();
    await Promise.all(
      [...this.tasks.values()].map(async (task) => {
        task.gates = [];
        await this.flushLast(task);
        await task.draining;
        task.retired = true;
        await task.producer.disconnect().catch(() => undefined);
      }),
    );
    // The tasks stay, retired, with their counts: a last stats() still tells what this instance held.
    for (const task of this.tasks.values()) for (const part of task.parts) part.state.close();
    await this.admin?.disconnect();
    this.stateDir?.release();
    for (const definition of this.definitions) await definition.stop?.();
  }

  stats(): StatefulStats {
    return statsOf(this.definitions, this.name, this.groupId, this.tasks, { ...this.counts, emittedByType: this.emittedByType, deadLettered: this.consumer.stats.deadLettered + this.counts.deadLettered });
  }

  /** The parked processes of the partitions this instance owns, oldest first, with why (docs/stateful-runtime.md "Parking"). */
  parked(): ParkedProcess[] {
    return parkedOf(this.tasks.values());
  }

  // ------------------------------------------------------------ BatchSink

  async assigned(assignment: Readonly<Record<string, readonly number[]>>, superseded?: AbortSignal): Promise<void> {
    const mine = new Set(Object.values(assignment).flat());
    for (const [partition, task] of [...this.tasks]) if (!mine.has(partition)) await this.retire(task);
    // A task fenced while the group was rebalancing, and still this instance's: restore it now (fencing.ts).
    for (const task of this.tasks.values()) {
      if (task.fenced !== true) continue;
      await task.draining?.catch(() => undefined); // its own round may be loading it already
      if (task.fenced === true) await this.restore.reload(task);
    }
    const fresh = [...mine].filter((p) => !this.tasks.has(p)).sort((a, b) => a - b);
    if (fresh.length > 0) {
      // Superseded (a rebalance while restoring): the load stops at its next batch, keeping what it restored.
      for (const task of await this.restore.load(fresh, superseded)) {
        this.tasks.set(task.partition, task);
        this.deadlines.track(task);
      }
    }
    this.scheduler.arm();
    this.log.info({ partitions: [...this.tasks.keys()].sort((a, b) => a - b) }, 'assigned');
  }

  /** With positions in the changelog, reading starts at the restored checkpoints, whatever the group's offsets say. */
  startAt(topic: string, partition: number): number | undefined {
    return this.positionsMode === 'changelog' ? this.tasks.get(partition)?.committed.get(topic) : undefined;
  }

  async write(batch: PartitionBatch): Promise<void> {
    const task = this.tasks.get(batch.partition);
    if (task === undefined || task.retired) throw new PartitionRevoked(`partition ${batch.partition} is not this instance's`);
    if (this.fetch !== undefined) return this.fetch.enqueue(task, batch);
    await this.loop.submit(task, { kind: 'batch', batch });
  }

  // ------------------------------------------------------------ tasks

  private started(): { readonly admin: Admin; readonly stateDir: StateDirectory } {
    if (this.admin === undefined || this.stateDir === undefined) throw new Error('the runtime is not started');
    return { admin: this.admin, stateDir: this.stateDir };
  }

  /** Whether the group, settled, has this member assigned the task's partition (fencing.ts). */
  private async owned(task: Task<S>): Promise<boolean> {
    const admin = this.admin;
    if (admin === undefined || this.stopping) return false;
    const { groups } = await admin.describeGroups([this.groupId]);
    return assignedIn(groups[0], this.consumer.memberId(), this.inputs, task.partition);
  }

  /** At stop: commits the offsets of rounds that wrote nothing, else they are read again next time. */
  private async flushLast(task: Task<S>): Promise<void> {
    clearTimeout(task.flushTimer);
    if (task.pendingOffsets.size === 0 || task.dirty) return;
    await this.loop.submit(task, { kind: 'flush' }).catch((error: unknown) => this.log.warn({ err: error, partition: task.partition }, 'could not commit the last offsets; they are read again next time'));
  }

  private async retire(task: Task<S>): Promise<void> {
    task.retired = true;
    this.fetch?.retire(task);
    clearTimeout(task.flushTimer);
    task.gates = [];
    await task.draining?.catch(() => undefined);
    await task.producer.disconnect().catch(() => undefined);
    // Closed, not deleted: if the partition comes back, only the changelog's delta is read.
    for (const part of task.parts) part.state.close();
    this.tasks.delete(task.partition);
    this.scheduler.forget(task.partition);
    this.log.info({ partition: task.partition }, 'partition revoked');
  }

  private progressed(topic: string, partition: number, nextOffset: number): void {
    const task = this.tasks.get(partition);
    // Stopping: what the consumer still reads is dropped (fetch-queue.ts `enqueue`, `take`), left for the next owner.
    // Its positions must not reach the offsets the last flush commits (`flushLast`), or that owner starts past them.
    if (task === undefined || task.retired || this.stopping) return;
    if (nextOffset > (task.positions.get(topic) ?? 0)) task.positions.set(topic, nextOffset);
    // A batch of only transaction markers never reaches write(): its offset rides with the next transaction, or a flush.
    // With the decoupled fetch the consumer reads ahead of what is decided: only once nothing of the topic waits.
    const settled = this.fetch?.idle(task, topic) ?? true;
    if (settled && nextOffset > Math.max(task.committed.get(topic) ?? -1, task.pendingOffsets.get(topic) ?? -1)) {
      task.pendingOffsets.set(topic, nextOffset);
      this.loop.armFlush(task);
    }
    if (task.gates.length > 0) this.scheduler.openGates(task);
  }
}
