// The stateful runtime (docs/stateful-runtime.md): runs a StatefulDefinition
// (definition.ts) on Kafka with exactly-once effects and its state on disk.
//
//   consume (EventConsumer: header skip, decode, DLQ) → pure decide(input, state)
//   → ONE Kafka transaction per partition and round: emitted messages, the new
//     state of every changed key (compacted changelog, stamped with the fold
//     version), dead letters, and the consumed offsets (sendOffsets)
//   → after the commit, the new states and the changelog offset into the
//     partition's on-disk store (partition-state.ts).
//
// Ownership is per partition number p ("task"): the co-partitioned assigner
// gives one member partition p of every input topic; the task's transactional
// id `<group>.<p>` fences any previous owner; on assignment the task opens its
// store and applies only what the changelog holds past it (load.ts), reads the
// group's committed offsets (records below them were committed by someone,
// perhaps a fenced zombie, and are skipped), then schedules the stored
// deadlines. The restore runs while the consumer heartbeats (the EventConsumer
// takes on an assignment outside its batches). The per-task queue and rounds
// are task-loop.ts; deadlines deadline-scheduler.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Admin, Kafka } from 'kafkajs';
import { topicCatalog, type TopicCatalog } from '../../schemas/topics';
import type { RetryPolicy } from '../consuming/backoff';
import { EventConsumer, ProcessingError, type BatchSink, type PartitionBatch } from '../consuming/event-consumer';
import { CoPartitionedAssigner } from '../kafka/co-partitioned-assigner';
import type { AvroCodec } from '../kafka/codec';
import type { Logger } from '../logging';
import type { QueuedDeadline } from './deadline-queue';
import type { TraceHeaders } from '../tracing/propagation';
import { DeadlineScheduler } from './deadline-scheduler';
import { assignedIn } from './fencing';
import type { StatefulDefinition } from './definition';
import { loadPartitions, type LoadContext } from './load';
import { oneAtATime } from './one-at-a-time';
import { StaleFoldError } from './partition-state';
import type { DecideContext } from './round';
import { TaskLoop } from './task-loop';
import { PartitionRevoked, zeroCounts, type Task } from './task';
import type { StatefulStats } from './stats';
import { summaryOf, type ParkedProcess } from './parking';
import { parkingContextOf } from './round-parking';

export interface StatefulRuntimeOptions<S, I> {
  readonly kafka: Kafka;
  readonly codec: AvroCodec;
  readonly logger: Logger;
  readonly definition: StatefulDefinition<S, I>;
  /** The catalog topic holding the states (compacted; key = state key). */
  readonly changelog: string;
  readonly catalog?: TopicCatalog;
  /** Physical topic per catalog topic, for tests and benches on topics of their own (records are still encoded with the catalog topic's subjects). */
  readonly topicMap?: Readonly<Record<string, string>>;
  readonly groupId: string;
  /** Where the partition stores live (one directory per changelog partition). Default: a directory of its own, deleted at stop (every start restores from scratch). */
  readonly stateDir?: string;
  /**
   * The catalog topic of the runtime's parked inputs (compacted, co-partitioned
   * with the changelog): with it, a definition that declares `parking` parks
   * processes instead of skipping their dead-lettered inputs (docs/stateful-runtime.md "Parking").
   */
  readonly parkedTopic?: string;
  /** The changelog's incarnation: change it when the changelog topic is recreated (default "1"). */
  readonly changelogEpoch?: string;
  /** Decoded states kept in memory per partition (default 500). */
  readonly decodedCapacity?: number;
  readonly clock?: () => number;
  readonly retry?: RetryPolicy;
  /** How long the offsets of rounds that changed nothing may wait for a transaction to ride with (default 1000 ms). */
  readonly offsetFlushMs?: number;
  /** Longest a restore may take to read the changelog (default 10 minutes). */
  readonly restoreTimeoutMs?: number;
  /** Bytes fetched per partition and request (kafkajs's default is 1 MB). */
  readonly maxBytesPerPartition?: number;
  /** Bytes fetched per restore request (default 4 MiB); with `onRestoreProgress`, what the crash tests slow a restore with. */
  readonly restoreFetchBytes?: number;
  /** Called after each applied restore batch (the crash tests kill -9 part-way through a restore). */
  readonly onRestoreProgress?: (partition: number, offset: number) => Promise<void>;
  /** Called between a round's commit and its store write: the crash point the crash tests kill -9 at (test/support/stateful-crash-child.ts). */
  readonly betweenCommitAndStore?: (partition: number) => Promise<void>;
}

export class StatefulRuntime<S, I> implements BatchSink {
  readonly writesDeadLetters = true;
  readonly groupId: string;
  readonly consumer: EventConsumer;
  private readonly definition: StatefulDefinition<S, I>;
  private readonly clock: () => number;
  private readonly log: Logger;
  private readonly inputs: readonly string[];
  /** The inputs plus the parked topic when parking (operators' requests arrive there). */
  private readonly consumed: readonly string[];
  private readonly ctx: DecideContext<S, I>;
  private readonly tasks = new Map<number, Task<S>>();
  private readonly scheduler: DeadlineScheduler<Task<S>>;
  private readonly loop: TaskLoop<S, I>;
  private admin: Admin | undefined;
  private stateDir: string | undefined;
  private ownStateDir = false;
  private stopping = false;
  private epochs = 0;
  /** Why the runtime refuses to decide (states of another fold version); undefined while it does not. */
  private refused: string | undefined;
  private readonly emittedByType = new Map<string, number>();
  private readonly counts = zeroCounts();

  constructor(private readonly options: StatefulRuntimeOptions<S, I>) {
    const { definition } = options;
    const catalog = options.catalog ?? topicCatalog();
    const physical = (topic: string): string => options.topicMap?.[topic] ?? topic;
    this.definition = definition;
    this.clock = options.clock ?? Date.now;
    this.groupId = options.groupId;
    this.log = options.logger.child({ component: 'stateful-runtime', definition: definition.name });
    this.inputs = definition.inputs.map(physical);
    const counts = new Set(definition.inputs.map((t) => catalog.topic(t).partitions));
    const changelog = catalog.topic(options.changelog);
    counts.add(changelog.partitions);
    if (counts.size !== 1) throw new Error(`${definition.name}: inputs and changelog must share one partition count, got ${[...counts].join(', ')}`);
    const parking = parkingContextOf(definition, options.parkedTopic, { catalog, physical, changelogPartitions: changelog.partitions, groupId: options.groupId, clock: this.clock });
    this.consumed = parking === undefined ? this.inputs : [...this.inputs, parking.physical];
    this.ctx = {
      definition,
      codec: options.codec,
      catalog,
      physical,
      changelog: { logical: changelog.name, physical: physical(changelog.name), partitions: changelog.partitions },
      ...(parking === undefined ? {} : { parking }),
    };
    this.scheduler = new DeadlineScheduler<Task<S>>({
      clock: this.clock,
      log: this.log,
      inputs: this.inputs,
      task: (partition) => this.tasks.get(partition),
      pending: (task, entry) => this.pending(task, entry),
      submit: (task, due) => this.loop.submit(task, { kind: 'deadlines', due }),
      admin: () => this.admin,
    });
    this.loop = new TaskLoop(this.ctx, {
      log: this.log,
      groupId: this.groupId,
      offsetFlushMs: options.offsetFlushMs ?? 1_000,
      counts: this.counts,
      emittedByType: this.emittedByType,
      scheduler: this.scheduler,
      stopping: () => this.stopping,
      reload: (task) => this.reload(task),
      owned: (task) => this.owned(task),
      replaced: (task, id, before, after, trace) => this.replaced(task, id, before, after, trace),
      unparked: (task, id) => this.unparked(task, id),
      ...(options.betweenCommitAndStore === undefined ? {} : { betweenCommitAndStore: options.betweenCommitAndStore }),
    });
    this.consumer = new EventConsumer({
      kafka: options.kafka,
      codec: options.codec,
      logger: this.log,
      groupId: this.groupId,
      topics: this.consumed,
      handles: parking === undefined ? definition.handles : new Set([...definition.handles, 'ParkingRequest']),
      sink: this,
      ...(options.retry === undefined ? {} : { retry: options.retry }),
      // Only a decision that throws is the message's fault; anything else (Kafka, facts not caught up, a stale state) is retried, then handed back.
      isRetriable: (error) => !(error instanceof ProcessingError),
      autoCommit: false,
      partitionAssigners: [CoPartitionedAssigner],
      // Every batch of a fetch at once: each task has its own producer, and batches of one task are merged into one transaction.
      partitionsConsumedConcurrently: this.consumed.length * changelog.partitions,
      consumerConfig: {
        readUncommitted: false,
        maxWaitTimeInMs: 50,
        // A crashed instance's partitions move to the survivors (or its replacement) within ~6 s (docs/recovery.md).
        sessionTimeout: 6_000,
        rebalanceTimeout: 20_000,
        heartbeatInterval: 1_000,
        ...(options.maxBytesPerPartition === undefined ? {} : { maxBytesPerPartition: options.maxBytesPerPartition }),
      },
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
    await this.definition.start?.();
    if (this.options.stateDir === undefined) {
      this.stateDir = mkdtempSync(join(tmpdir(), `state-${this.groupId.replace(/[^\w.-]/g, '_')}-`));
      this.ownStateDir = true;
    } else this.stateDir = this.options.stateDir;
    const admin = this.options.kafka.admin();
    await admin.connect();
    this.admin = admin;
    await this.consumer.start();
  }

  /** Stops taking work, lets the transaction in flight commit or abort, commits what was decided, closes the stores, disconnects. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.scheduler.stop();
    // kafkajs's disconnect waits for the batches in flight, which wait for their transaction.
    await this.consumer.stop();
    await Promise.all(
      [...this.tasks.values()].map(async (task) => {
        clearTimeout(task.flushTimer);
        task.gates = [];
        if (task.pendingOffsets.size > 0 && !task.dirty) {
          await this.loop.submit(task, { kind: 'flush' }).catch((error: unknown) => this.log.warn({ err: error, partition: task.partition }, 'could not commit the last offsets; they are read again next time'));
        }
        await task.draining;
        task.retired = true;
        await task.producer.disconnect().catch(() => undefined);
      }),
    );
    // The tasks stay, retired, with their counts: a last stats() still tells what this instance held.
    for (const task of this.tasks.values()) task.state.close();
    await this.admin?.disconnect();
    if (this.ownStateDir && this.stateDir !== undefined) rmSync(this.stateDir, { recursive: true, force: true });
    await this.definition.stop?.();
  }

  stats(): StatefulStats {
    let instances = 0;
    let waiting = 0;
    let pendingDeadlines = 0;
    const byStatus = new Map<string, number>();
    for (const task of this.tasks.values()) {
      instances += task.state.size;
      pendingDeadlines += task.state.pendingDeadlines;
      for (const [label, n] of task.state.labels) byStatus.set(label, (byStatus.get(label) ?? 0) + n);
      for (const gate of task.gates) waiting += gate.due.length;
    }
    return Object.freeze({
      name: this.definition.name,
      groupId: this.groupId,
      partitions: [...this.tasks.keys()].sort((a, b) => a - b),
      instances,
      instancesByState: Object.freeze(Object.fromEntries([...byStatus].filter(([, n]) => n > 0))),
      pendingDeadlines,
      deadlinesWaitingForInputs: waiting,
      messagesEmittedByType: Object.freeze(Object.fromEntries(this.emittedByType)),
      deadLettered: this.consumer.stats.deadLettered,
      parkedProcesses: [...this.tasks.values()].reduce((n, task) => n + task.parked.size, 0),
      parkedInputs: [...this.tasks.values()].reduce((n, task) => n + [...task.parked.values()].reduce((m, list) => m + list.length, 0), 0),
      parked: Object.freeze(this.parked()),
      ...this.counts,
    });
  }

  /** The parked processes of the partitions this instance owns, oldest first, with why (docs/stateful-runtime.md "Parking"). */
  parked(): ParkedProcess[] {
    const out: ParkedProcess[] = [];
    for (const task of this.tasks.values()) {
      for (const list of task.parked.values()) {
        const summary = summaryOf(list);
        if (summary !== undefined) out.push(summary);
      }
    }
    return out.sort((a, b) => a.parkedAt - b.parkedAt || (a.processId < b.processId ? -1 : 1));
  }

  // ------------------------------------------------------------ BatchSink

  /** One assignment at a time: the next waits until this one's partitions are loaded (one-at-a-time.ts). */
  readonly assigned = oneAtATime((assignment: Readonly<Record<string, readonly number[]>>) => this.takeOnAssignment(assignment));

  private async takeOnAssignment(assignment: Readonly<Record<string, readonly number[]>>): Promise<void> {
    const mine = new Set(Object.values(assignment).flat());
    for (const [partition, task] of [...this.tasks]) if (!mine.has(partition)) await this.retire(task);
    // A task fenced while the group was rebalancing, and still this instance's: restore it now (fencing.ts).
    for (const task of this.tasks.values()) {
      if (task.fenced !== true) continue;
      await task.draining?.catch(() => undefined); // its own round may be loading it already
      if (task.fenced === true) await this.reload(task);
    }
    const fresh = [...mine].filter((p) => !this.tasks.has(p)).sort((a, b) => a - b);
    if (fresh.length > 0) {
      for (const l of await this.load(fresh)) {
        const task: Task<S> = { ...l, epoch: ++this.epochs, pendingOffsets: new Map(), positions: new Map(l.starts), queue: [], draining: undefined, dirty: false, retired: false, gates: [], flushTimer: undefined };
        this.tasks.set(l.partition, task);
        this.track(task);
      }
    }
    this.scheduler.arm();
    this.log.info({ partitions: [...this.tasks.keys()].sort((a, b) => a - b) }, 'assigned');
  }

  async write(batch: PartitionBatch): Promise<void> {
    const task = this.tasks.get(batch.partition);
    if (task === undefined || task.retired) throw new PartitionRevoked(`partition ${batch.partition} is not this instance's`);
    await this.loop.submit(task, { kind: 'batch', batch });
  }

  // ------------------------------------------------------------ restore

  private async load(partitions: readonly number[]): ReturnType<typeof loadPartitions<S>> {
    const admin = this.admin;
    if (admin === undefined || this.stateDir === undefined) throw new Error('the runtime is not started');
    const ctx: LoadContext<S> = {
      kafka: this.options.kafka,
      admin,
      codec: this.options.codec,
      log: this.log,
      groupId: this.groupId,
      definition: this.definition as StatefulDefinition<S, unknown>,
      inputs: this.consumed,
      changelog: this.ctx.changelog.physical,
      ...(this.ctx.parking === undefined ? {} : { parked: this.ctx.parking.physical }),
      stateDir: this.stateDir,
      changelogEpoch: this.options.changelogEpoch ?? '1',
      restoreTimeoutMs: this.options.restoreTimeoutMs ?? 600_000,
      decodedCapacity: this.options.decodedCapacity ?? 500,
      ...(this.options.restoreFetchBytes === undefined ? {} : { fetchBytes: this.options.restoreFetchBytes }),
      ...(this.options.onRestoreProgress === undefined ? {} : { onProgress: this.options.onRestoreProgress }),
    };
    try {
      const loaded = await loadPartitions(ctx, partitions);
      this.counts.restores += partitions.length;
      return loaded;
    } catch (error) {
      if (error instanceof StaleFoldError) {
        this.refused = error.message;
        this.log.fatal({ err: error }, 'refusing to decide on states of another fold version');
      }
      throw error;
    }
  }

  /** After a failed transaction or store write: the same, for one task that stays. */
  private async reload(task: Task<S>): Promise<void> {
    await task.producer.disconnect().catch(() => undefined);
    task.state.close();
    this.scheduler.forget(task.partition);
    const [l] = await this.load([task.partition]);
    if (l === undefined) throw new Error(`partition ${task.partition} did not load`);
    task.producer = l.producer;
    task.epoch = ++this.epochs;
    task.state = l.state;
    task.parked = l.parked;
    task.committed.clear();
    for (const [topic, offset] of l.committed) task.committed.set(topic, offset);
    task.pendingOffsets.clear();
    for (const [topic, offset] of l.starts) task.positions.set(topic, Math.max(task.positions.get(topic) ?? 0, offset));
    task.gates = [];
    task.dirty = false;
    task.fenced = false;
    this.track(task);
    this.scheduler.arm();
  }

  /** Whether the group, settled, has this member assigned the task's partition (fencing.ts). */
  private async owned(task: Task<S>): Promise<boolean> {
    const admin = this.admin;
    if (admin === undefined || this.stopping) return false;
    const { groups } = await admin.describeGroups([this.groupId]);
    return assignedIn(groups[0], this.consumer.memberId(), this.inputs, task.partition);
  }

  private async retire(task: Task<S>): Promise<void> {
    task.retired = true;
    clearTimeout(task.flushTimer);
    task.gates = [];
    await task.draining?.catch(() => undefined);
    await task.producer.disconnect().catch(() => undefined);
    // Closed, not deleted: if the partition comes back, only the changelog's delta is read.
    task.state.close();
    this.tasks.delete(task.partition);
    this.scheduler.forget(task.partition);
    this.log.info({ partition: task.partition }, 'partition revoked');
  }

  // ------------------------------------------------------------ state bookkeeping

  /** Queues the stored states' deadlines (read from the store's index, not from the states). */
  private track(task: Task<S>): void {
    let pending = 0;
    for (const { id, deadlines, trace } of task.state.pending()) {
      pending += deadlines.length;
      // Each fires in the trace of the step that set it, kept in the store beside the state.
      for (const d of deadlines) this.scheduler.push({ fireAt: d.dueAt, dueAt: d.dueAt, name: d.name, partition: task.partition, processId: id, epoch: task.epoch, trace });
    }
    task.state.pendingDeadlines = pending;
  }

  /** Counts and timers for a state that went from `before` to `after` (committed). */
  private replaced(task: Task<S>, id: string, before: S | undefined, after: S, trace: TraceHeaders): void {
    const d = this.definition;
    const old = before === undefined ? [] : d.deadlines(before);
    for (const deadline of d.deadlines(after)) {
      if (old.some((o) => o.name === deadline.name && o.dueAt === deadline.dueAt)) continue;
      this.scheduler.push({ fireAt: deadline.dueAt, dueAt: deadline.dueAt, name: deadline.name, partition: task.partition, processId: id, epoch: task.epoch, trace: trace.traceparent === undefined ? undefined : trace });
    }
    if (d.counters !== undefined) {
      const a = d.counters(after);
      const b = before === undefined ? { failures: 0, retries: 0 } : d.counters(before);
      this.counts.processFailures += Math.max(0, a.failures - b.failures);
      this.counts.processRetries += Math.max(0, a.retries - b.retries);
    }
  }

  /** A process unparked: its state's deadlines are scheduled again (they did not fire while it was parked). */
  private unparked(task: Task<S>, id: string): void {
    let state: S | undefined;
    try {
      state = task.state.get(id);
    } catch {
      return; // not readable by this build: nothing is decided on it anyway
    }
    if (state === undefined) return;
    for (const d of this.definition.deadlines(state)) this.scheduler.push({ fireAt: d.dueAt, dueAt: d.dueAt, name: d.name, partition: task.partition, processId: id, epoch: task.epoch, trace: undefined });
  }

  private pending(task: Task<S>, entry: QueuedDeadline): boolean {
    try {
      const state = task.state.get(entry.processId);
      return state !== undefined && this.definition.deadlines(state).some((d) => d.name === entry.name && d.dueAt === entry.dueAt);
    } catch {
      return true; // not readable now (a schema to resolve): the round decides, and checks it again
    }
  }

  private progressed(topic: string, partition: number, nextOffset: number): void {
    const task = this.tasks.get(partition);
    if (task === undefined || task.retired) return;
    if (nextOffset > (task.positions.get(topic) ?? 0)) task.positions.set(topic, nextOffset);
    // A batch of only transaction markers never reaches write(): its offset rides with the next transaction, or a flush.
    if (nextOffset > Math.max(task.committed.get(topic) ?? -1, task.pendingOffsets.get(topic) ?? -1)) {
      task.pendingOffsets.set(topic, nextOffset);
      this.loop.armFlush(task);
    }
    if (task.gates.length > 0) this.scheduler.openGates(task);
  }
}
