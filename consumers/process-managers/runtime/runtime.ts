// The process-manager runtime (docs/process-managers.md): runs a ProcessDefinition
// (definition.ts) on Kafka with exactly-once effects.
//
//   consume (EventConsumer: header skip, decode, DLQ) → pure decide(input, state)
//   → ONE Kafka transaction per partition and round: emitted commands/events,
//     the new state of every changed process (compacted changelog, key =
//     process id), dead letters, and the consumed offsets (sendOffsets).
//
// Ownership is per partition number p ("task"): the co-partitioned assigner
// gives one member partition p of every input topic; the task's transactional
// id `<group>.<p>` fences any previous owner; on assignment the task reads
// changelog partition p to its end and restores every process, reads the
// group's committed offsets (records below them were committed by someone,
// perhaps a fenced zombie, and are skipped), then schedules the restored
// processes' deadlines.
//
// Per task, work (partition batches of both topics, due deadlines, offset
// flushes) is queued and drained in order: everything queued when a round
// starts goes into one transaction (group commit). A round that changes nothing
// (a replay) writes nothing; its offsets ride with the next transaction or a
// flush after `offsetFlushMs`. If a transaction fails it is aborted, the
// round's work is handed back (the EventConsumer retries the batch), and the
// task is restored from the changelog and committed offsets before anything
// else is decided: a commit whose outcome was unknown cannot be applied twice.
//
// Deadlines are part of the process state; the scheduler is only a timer (a
// heap checked against the state when it fires). A due deadline fires once the
// task has consumed its input partitions up to the ends they had when it came
// due, so inputs that were already in the log (a payment answer that arrived
// while this instance was down) are decided first, and a restart does not turn
// an answer in time into a timeout. It is decided like any input, with no
// consumed offset.
import type { Span } from '@opentelemetry/api';
import { traceHeadersIn, traceHeadersOf, type TraceHeaders } from '../../../infra/tracing/propagation';
import { endSpan, startStep } from '../../../infra/tracing/spans';
import type { Admin, IHeaders, Kafka, Message, Producer } from 'kafkajs';
import { readToEnd } from '../../../infra/kafka/read-to-end';
import { fencedProducer } from '../../../infra/kafka/transactions';
import { RegistryError, type AvroCodec } from '../../../infra/kafka/codec';
import { CoPartitionedAssigner } from '../../../infra/kafka/co-partitioned-assigner';
import type { Logger } from '../../../infra/logging';
import { partitionFor } from '../../../schemas/partitioning';
import { dlqTopicName, topicCatalog, type TopicCatalog } from '../../../schemas/topics';
import type { RetryPolicy } from '../../projections/runtime/backoff';
import { deadLetterHeaders, type DeadLetter } from '../../projections/runtime/dlq';
import { EventConsumer, ProcessingError, type BatchSink, type PartitionBatch } from '../../projections/runtime/event-consumer';
import { DeadlineQueue, type QueuedDeadline } from './deadline-queue';
import type { Deadline, Outgoing, ProcessDefinition } from './definition';

export interface ProcessManagerRuntimeOptions<S, I> {
  readonly kafka: Kafka;
  readonly codec: AvroCodec;
  readonly logger: Logger;
  readonly definition: ProcessDefinition<S, I>;
  readonly catalog?: TopicCatalog;
  /** Physical topic per catalog topic, for tests and benches on topics of their own (records are still encoded with the catalog topic's subjects). */
  readonly topicMap?: Readonly<Record<string, string>>;
  readonly groupId?: string;
  readonly clock?: () => number;
  readonly retry?: RetryPolicy;
  /** How long the offsets of rounds that changed nothing may wait for a transaction to ride with (default 1000 ms). */
  readonly offsetFlushMs?: number;
  /** Longest a restore may take to read the changelog (default 120 s). */
  readonly restoreTimeoutMs?: number;
  /** Bytes fetched per partition and request (kafkajs's default is 1 MB). */
  readonly maxBytesPerPartition?: number;
}

/** A read-only snapshot of what the runtime has done and holds; for health, tests and (later) metrics. */
export interface ProcessManagerStats {
  readonly name: string;
  readonly groupId: string;
  /** Partition numbers this instance owns. */
  readonly partitions: readonly number[];
  /** Processes held in memory (all restored or started on the owned partitions). */
  readonly instances: number;
  readonly instancesByState: Readonly<Record<string, number>>;
  /** Deadlines in the states of owned processes. */
  readonly pendingDeadlines: number;
  /** Due deadlines waiting until the inputs that were in the log when they came due have been decided. */
  readonly deadlinesWaitingForInputs: number;
  /** Deadlines fired that changed their process. */
  readonly deadlinesFired: number;
  /** Inputs decided (consumed records routed in, plus fired deadlines), and those that changed a process. */
  readonly inputsDecided: number;
  readonly inputsChanged: number;
  readonly messagesEmitted: number;
  readonly messagesEmittedByType: Readonly<Record<string, number>>;
  /** Failures the processes recorded (declines, timeouts, unexpected inputs) and deliberate retries, since start. */
  readonly processFailures: number;
  readonly processRetries: number;
  readonly transactions: number;
  /** Transactions aborted (the round is retried after a restore). */
  readonly transactionsFailed: number;
  /** Partitions restored from the changelog (on assignment or after a failed transaction). */
  readonly restores: number;
  readonly deadLettered: number;
}

type Work =
  | { readonly kind: 'batch'; readonly batch: PartitionBatch }
  | { readonly kind: 'deadlines'; readonly due: readonly QueuedDeadline[] }
  | { readonly kind: 'flush' };

interface Queued {
  readonly work: Work;
  settle(error?: unknown): void;
}

interface Task<S> {
  readonly partition: number;
  producer: Producer;
  /** The load (restore) this task's states and queued deadlines belong to. */
  epoch: number;
  states: Map<string, S>;
  /** Process id -> the trace context of the step that last changed it (kept in its changelog record's headers): a deadline it set fires in that trace. */
  traces: Map<string, TraceHeaders>;
  /** Physical input topic -> offset committed in Kafka (by us or whoever owned the partition before). */
  readonly committed: Map<string, number>;
  /** Offsets of rounds that wrote nothing, not yet committed. */
  readonly pendingOffsets: Map<string, number>;
  /** Physical input topic -> offset after the last record decided. */
  readonly positions: Map<string, number>;
  readonly queue: Queued[];
  draining: Promise<void> | undefined;
  /** A transaction failed: restore before deciding anything else. */
  dirty: boolean;
  retired: boolean;
  /** Due deadlines waiting for the inputs to reach `needs` (topic -> end offset when they came due). */
  gates: Array<{ readonly needs: ReadonlyMap<string, number>; readonly due: readonly QueuedDeadline[] }>;
  flushTimer: NodeJS.Timeout | undefined;
}

interface Round<S> {
  /** Changed processes: the new state and its changelog record. */
  readonly states: Map<string, { readonly state: S; readonly record: Message; readonly trace: TraceHeaders }>;
  /** Emitted messages, encoded, with their physical topic. */
  readonly emit: Array<{ readonly topic: string; readonly type: string; readonly message: Message }>;
  readonly dead: DeadLetter[];
  readonly offsets: Map<string, number>;
  /** A span per input decided (docs/tracing.md), ended once the round's transaction is over. */
  readonly spans: Span[];
  decided: number;
  changed: number;
  fired: number;
}

const emptyRound = <S>(): Round<S> => ({ states: new Map(), emit: [], dead: [], offsets: new Map(), spans: [], decided: 0, changed: 0, fired: 0 });

/** The partition is no longer this instance's; its queued work is dropped (kafkajs re-fetches for the new owner). */
class PartitionRevoked extends Error {
  override readonly name = 'PartitionRevoked';
  readonly retriable = true;
}

const MAX_TIMER_MS = 60_000;
const RETRY_FIRING_MS = 1_000;

const yieldToIo = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class ProcessManagerRuntime<S, I> implements BatchSink {
  readonly writesDeadLetters = true;
  readonly groupId: string;
  readonly consumer: EventConsumer;
  private readonly definition: ProcessDefinition<S, I>;
  private readonly catalog: TopicCatalog;
  private readonly clock: () => number;
  private readonly log: Logger;
  private readonly inputs: readonly string[];
  private readonly changelog: { readonly logical: string; readonly physical: string; readonly partitions: number };
  private readonly tasks = new Map<number, Task<S>>();
  private readonly deadlines = new DeadlineQueue();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private firing = false;
  private admin: Admin | undefined;
  private stopping = false;
  private epochs = 0;
  private readonly byStatus = new Map<string, number>();
  private readonly emittedByType = new Map<string, number>();
  private readonly counts = {
    pendingDeadlines: 0,
    deadlinesFired: 0,
    inputsDecided: 0,
    inputsChanged: 0,
    messagesEmitted: 0,
    processFailures: 0,
    processRetries: 0,
    transactions: 0,
    transactionsFailed: 0,
    restores: 0,
  };

  constructor(private readonly options: ProcessManagerRuntimeOptions<S, I>) {
    const { definition } = options;
    this.definition = definition;
    this.catalog = options.catalog ?? topicCatalog();
    this.clock = options.clock ?? Date.now;
    this.groupId = options.groupId ?? definition.groupId;
    this.log = options.logger.child({ component: 'process-manager', processManager: definition.name });
    this.inputs = definition.inputs.map((t) => this.physical(t));
    const counts = new Set(definition.inputs.map((t) => this.catalog.topic(t).partitions));
    const changelog = this.catalog.changelog(definition.name);
    counts.add(changelog.partitions);
    if (counts.size !== 1) throw new Error(`${definition.name}: inputs and changelog must share one partition count, got ${[...counts].join(', ')}`);
    this.changelog = { logical: changelog.name, physical: this.physical(changelog.name), partitions: changelog.partitions };
    this.consumer = new EventConsumer({
      kafka: options.kafka,
      codec: options.codec,
      logger: this.log,
      groupId: this.groupId,
      topics: this.inputs,
      handles: definition.handles,
      sink: this,
      ...(options.retry === undefined ? {} : { retry: options.retry }),
      // Only a decision that throws is the message's fault; anything else (Kafka, facts not caught up) is retried, then handed back.
      isRetriable: (error) => !(error instanceof ProcessingError),
      autoCommit: false,
      partitionAssigners: [CoPartitionedAssigner],
      // Every batch of a fetch at once: each task has its own producer, and batches of one task are merged into one transaction.
      partitionsConsumedConcurrently: this.inputs.length * changelog.partitions,
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

  private physical(topic: string): string {
    return this.options.topicMap?.[topic] ?? topic;
  }

  /** Undefined while the runtime's consumer has its assignment and has restored it; else why not (for readiness). */
  notReady(): string | undefined {
    return this.consumer.notReady();
  }

  /** Why the runtime's consumer will never consume again without a restart; undefined while it may. */
  broken(): string | undefined {
    return this.consumer.broken();
  }

  async start(): Promise<void> {
    await this.definition.start?.();
    const admin = this.options.kafka.admin();
    await admin.connect();
    this.admin = admin;
    await this.consumer.start();
  }

  /** Stops taking work, lets the transaction in flight commit or abort, commits what was decided, disconnects. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    // kafkajs's disconnect waits for the batches in flight, which wait for their transaction.
    await this.consumer.stop();
    await Promise.all(
      [...this.tasks.values()].map(async (task) => {
        clearTimeout(task.flushTimer);
        task.gates = [];
        if (task.pendingOffsets.size > 0 && !task.dirty) {
          await this.submit(task, { kind: 'flush' }).catch((error: unknown) => this.log.warn({ err: error, partition: task.partition }, 'could not commit the last offsets; they are read again next time'));
        }
        await task.draining;
        task.retired = true;
        await task.producer.disconnect().catch(() => undefined);
      }),
    );
    // The tasks stay, retired: a last stats() still tells what this instance held.
    await this.admin?.disconnect();
    await this.definition.stop?.();
  }

  stats(): ProcessManagerStats {
    let instances = 0;
    let waiting = 0;
    for (const task of this.tasks.values()) {
      instances += task.states.size;
      for (const gate of task.gates) waiting += gate.due.length;
    }
    return Object.freeze({
      name: this.definition.name,
      groupId: this.groupId,
      partitions: [...this.tasks.keys()].sort((a, b) => a - b),
      instances,
      instancesByState: Object.freeze(Object.fromEntries([...this.byStatus].filter(([, n]) => n > 0))),
      deadlinesWaitingForInputs: waiting,
      messagesEmittedByType: Object.freeze(Object.fromEntries(this.emittedByType)),
      deadLettered: this.consumer.stats.deadLettered,
      ...this.counts,
    });
  }

  // ------------------------------------------------------------ BatchSink

  async assigned(assignment: Readonly<Record<string, readonly number[]>>): Promise<void> {
    const mine = new Set(Object.values(assignment).flat());
    for (const [partition, task] of [...this.tasks]) if (!mine.has(partition)) await this.retire(task);
    const fresh = [...mine].filter((p) => !this.tasks.has(p)).sort((a, b) => a - b);
    if (fresh.length > 0) await this.restore(fresh);
    this.log.info({ partitions: [...this.tasks.keys()].sort((a, b) => a - b) }, 'assigned');
  }

  async write(batch: PartitionBatch): Promise<void> {
    const task = this.tasks.get(batch.partition);
    if (task === undefined || task.retired) throw new PartitionRevoked(`partition ${batch.partition} is not this instance's`);
    await this.submit(task, { kind: 'batch', batch });
  }

  // ------------------------------------------------------------ restore

  /** Fences, reads the changelog partitions to their end and the group's offsets, then makes tasks of them. */
  private async restore(partitions: readonly number[]): Promise<void> {
    const loaded = await this.load(partitions);
    for (const l of loaded) {
      const task: Task<S> = {
        partition: l.partition,
        producer: l.producer,
        epoch: l.epoch,
        states: l.states,
        traces: l.traces,
        committed: l.committed,
        pendingOffsets: new Map(),
        positions: new Map(l.starts),
        queue: [],
        draining: undefined,
        dirty: false,
        retired: false,
        gates: [],
        flushTimer: undefined,
      };
      this.tasks.set(l.partition, task);
      this.track(task);
    }
    this.armTimer();
  }

  /** After a failed transaction: the same, for one task that stays. */
  private async reload(task: Task<S>): Promise<void> {
    await task.producer.disconnect().catch(() => undefined);
    this.untrack(task);
    const [l] = await this.load([task.partition]);
    if (l === undefined) throw new Error(`partition ${task.partition} did not load`);
    task.producer = l.producer;
    task.epoch = l.epoch;
    task.states = l.states;
    task.traces = l.traces;
    task.committed.clear();
    for (const [topic, offset] of l.committed) task.committed.set(topic, offset);
    task.pendingOffsets.clear();
    for (const [topic, offset] of l.starts) task.positions.set(topic, Math.max(task.positions.get(topic) ?? 0, offset));
    task.gates = [];
    task.dirty = false;
    this.track(task);
    this.armTimer();
  }

  private async load(partitions: readonly number[]): Promise<
    Array<{ partition: number; producer: Producer; epoch: number; states: Map<string, S>; traces: Map<string, TraceHeaders>; committed: Map<string, number>; starts: Map<string, number> }>
  > {
    const { kafka, codec } = this.options;
    const started = Date.now();
    // 1. Fence first, so nothing a previous owner left open can commit after we read.
    const producers = await Promise.all(partitions.map((p) => fencedProducer(kafka, `${this.groupId}.${p}`)));
    try {
      // 2. Every process of these partitions, latest state per key.
      const states = new Map(partitions.map((p) => [p, new Map<string, S>()]));
      const traces = new Map(partitions.map((p) => [p, new Map<string, TraceHeaders>()]));
      const { records } = await readToEnd(
        kafka,
        [{ topic: this.changelog.physical, partitions }],
        async ({ partition, message }) => {
          const id = message.key?.toString() ?? '';
          const map = states.get(partition) as Map<string, S>;
          const traceMap = traces.get(partition) as Map<string, TraceHeaders>;
          traceMap.delete(id);
          if (message.value === null) {
            map.delete(id); // a forgotten process
            return;
          }
          const trace = traceHeadersIn(message.headers);
          if (trace.traceparent !== undefined) traceMap.set(id, trace);
          const decoded = await codec.decode(message.value);
          if (decoded.fullName !== this.definition.stateRecord) throw new Error(`${this.changelog.physical}/${partition}@${message.offset} holds a ${decoded.fullName}, not a ${this.definition.stateRecord}`);
          map.set(id, this.definition.fromStateRecord(decoded.value));
        },
        { timeoutMs: this.options.restoreTimeoutMs ?? 120_000 },
      );
      // 3. Where each input partition was committed, else where it starts.
      const admin = this.admin;
      if (admin === undefined) throw new Error('the runtime is not started');
      const committed = await admin.fetchOffsets({ groupId: this.groupId, topics: [...this.inputs] });
      const lows = new Map<string, Map<number, number>>();
      for (const topic of this.inputs) lows.set(topic, new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.low)])));
      const loaded = partitions.map((partition, i) => {
        const c = new Map<string, number>();
        const starts = new Map<string, number>();
        for (const topic of this.inputs) {
          const offset = Number(committed.find((t) => t.topic === topic)?.partitions.find((x) => x.partition === partition)?.offset ?? -1);
          if (offset >= 0) c.set(topic, offset);
          starts.set(topic, offset >= 0 ? offset : (lows.get(topic)?.get(partition) ?? 0));
        }
        this.epochs += 1;
        return { partition, producer: producers[i] as Producer, epoch: this.epochs, states: states.get(partition) as Map<string, S>, traces: traces.get(partition) as Map<string, TraceHeaders>, committed: c, starts };
      });
      this.counts.restores += partitions.length;
      this.log.info(
        { partitions, processes: loaded.reduce((n, l) => n + l.states.size, 0), changelogRecords: records, committed: Object.fromEntries(loaded.map((l) => [l.partition, Object.fromEntries(l.committed)])), ms: Date.now() - started },
        'partitions restored from the changelog',
      );
      return loaded;
    } catch (error) {
      await Promise.all(producers.map((p) => p.disconnect().catch(() => undefined)));
      throw error;
    }
  }

  private async retire(task: Task<S>): Promise<void> {
    task.retired = true;
    clearTimeout(task.flushTimer);
    task.gates = [];
    await task.draining?.catch(() => undefined);
    await task.producer.disconnect().catch(() => undefined);
    this.untrack(task);
    this.tasks.delete(task.partition);
    this.deadlines.retain((e) => e.partition !== task.partition);
    this.log.info({ partition: task.partition }, 'partition revoked');
  }

  // ------------------------------------------------------------ state bookkeeping

  /** Counts a task's processes in and queues their deadlines. */
  private track(task: Task<S>): void {
    for (const [id, state] of task.states) this.replaced(task, id, undefined, state);
  }

  private untrack(task: Task<S>): void {
    for (const state of task.states.values()) {
      this.bump(this.byStatus, this.definition.status(state), -1);
      this.counts.pendingDeadlines -= this.definition.deadlines(state).length;
    }
  }

  /** Stats and timers for a process whose state went from `before` to `after`. */
  private replaced(task: Task<S>, id: string, before: S | undefined, after: S): void {
    const d = this.definition;
    if (before !== undefined) this.bump(this.byStatus, d.status(before), -1);
    this.bump(this.byStatus, d.status(after), 1);
    const old = before === undefined ? [] : d.deadlines(before);
    const now = d.deadlines(after);
    this.counts.pendingDeadlines += now.length - old.length;
    for (const deadline of now) {
      if (old.some((o) => o.name === deadline.name && o.dueAt === deadline.dueAt)) continue;
      this.deadlines.push({ fireAt: deadline.dueAt, dueAt: deadline.dueAt, name: deadline.name, partition: task.partition, processId: id, epoch: task.epoch, trace: task.traces.get(id) });
    }
  }

  private bump(map: Map<string, number>, key: string, by: number): void {
    map.set(key, (map.get(key) ?? 0) + by);
  }

  // ------------------------------------------------------------ the per-task loop

  private submit(task: Task<S>, work: Work): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      task.queue.push({ work, settle: (error) => (error === undefined ? resolve() : reject(error)) });
      this.keepDraining(task);
    });
  }

  /**
   * Starts the task's drain loop unless it runs. Work queued after the loop saw
   * an empty queue but before it was marked done would otherwise wait forever:
   * the loop is started again when it ends with work queued.
   */
  private keepDraining(task: Task<S>): void {
    task.draining ??= this.drain(task).finally(() => {
      task.draining = undefined;
      if (task.queue.length > 0) this.keepDraining(task);
    });
  }

  private async drain(task: Task<S>): Promise<void> {
    while (task.queue.length > 0) {
      // Let the other topic's batch of the same fetch join this round.
      await yieldToIo();
      const round = task.queue.splice(0);
      if (task.retired) {
        for (const q of round) q.settle(new PartitionRevoked(`partition ${task.partition} was revoked`));
        continue;
      }
      if (task.dirty) {
        try {
          await this.reload(task);
        } catch (error) {
          this.log.error({ err: error, partition: task.partition }, 'could not restore the partition; retrying its work later');
          for (const q of round) this.giveBack(task, q, error);
          continue;
        }
      }
      await this.runRound(task, round);
    }
  }

  /** A queued piece of work that could not be done: a batch goes back to the consumer (which retries it); deadlines are tried again later. */
  private giveBack(task: Task<S>, queued: Queued, error: unknown): void {
    if (queued.work.kind === 'deadlines') {
      const fireAt = this.clock() + RETRY_FIRING_MS;
      // Entries of an older load were queued again by the restore.
      for (const entry of queued.work.due) if (entry.epoch === task.epoch) this.deadlines.push({ ...entry, fireAt });
      this.armTimer();
    }
    queued.settle(error);
  }

  private async runRound(task: Task<S>, round: readonly Queued[]): Promise<void> {
    const merged = emptyRound<S>();
    const accepted: Queued[] = [];
    for (const queued of round) {
      const spansBefore = merged.spans.length;
      try {
        const part = await this.decideWork(task, queued.work, merged.states, merged.spans);
        for (const [id, state] of part.states) merged.states.set(id, state);
        merged.emit.push(...part.emit);
        merged.dead.push(...part.dead);
        for (const [topic, offset] of part.offsets) merged.offsets.set(topic, Math.max(merged.offsets.get(topic) ?? 0, offset));
        merged.decided += part.decided;
        merged.changed += part.changed;
        merged.fired += part.fired;
        accepted.push(queued);
      } catch (error) {
        for (const span of merged.spans.splice(spansBefore)) endSpan(span, error);
        // This piece alone (a decision that throws, facts not available): the rest of the round goes on.
        this.giveBack(task, queued, error);
      }
    }
    try {
      await this.commitRound(task, merged, accepted);
    } catch (error) {
      for (const span of merged.spans) endSpan(span, error);
      throw error;
    }
    for (const span of merged.spans) span.end();
  }

  private async commitRound(task: Task<S>, merged: Round<S>, accepted: readonly Queued[]): Promise<void> {
    if (accepted.length === 0) return;
    this.counts.inputsDecided += merged.decided;

    const flush = accepted.some((q) => q.work.kind === 'flush');
    const nothingToWrite = merged.emit.length === 0 && merged.states.size === 0 && merged.dead.length === 0;
    if (nothingToWrite && !flush) {
      // A replay or irrelevant inputs: no transaction; the offsets wait for the next one, or a flush.
      for (const [topic, offset] of merged.offsets) task.pendingOffsets.set(topic, Math.max(task.pendingOffsets.get(topic) ?? 0, offset));
      this.armFlush(task);
      for (const q of accepted) q.settle();
      return;
    }
    const offsets = new Map(task.pendingOffsets);
    for (const [topic, offset] of merged.offsets) offsets.set(topic, Math.max(offsets.get(topic) ?? 0, offset));
    if (nothingToWrite && offsets.size === 0) {
      for (const q of accepted) q.settle();
      return;
    }
    try {
      await this.transact(task, merged, offsets);
    } catch (error) {
      for (const span of merged.spans) endSpan(span, error);
      merged.spans.length = 0;
      task.dirty = true;
      this.counts.transactionsFailed += 1;
      this.log.error({ err: error, partition: task.partition }, 'transaction aborted; restoring the partition before its work is tried again');
      for (const q of accepted) this.giveBack(task, q, error);
      return;
    }
    clearTimeout(task.flushTimer);
    task.flushTimer = undefined;
    task.pendingOffsets.clear();
    for (const [topic, offset] of offsets) task.committed.set(topic, offset);
    for (const [id, { state, trace }] of merged.states) {
      const before = task.states.get(id);
      task.states.set(id, state);
      if (trace.traceparent === undefined) task.traces.delete(id);
      else task.traces.set(id, trace);
      this.replaced(task, id, before, state);
      this.countProcess(before, state);
    }
    this.counts.inputsChanged += merged.changed;
    this.counts.deadlinesFired += merged.fired;
    this.counts.messagesEmitted += merged.emit.length;
    for (const o of merged.emit) this.bump(this.emittedByType, o.type, 1);
    this.armTimer();
    for (const q of accepted) q.settle();
  }

  private countProcess(before: S | undefined, after: S): void {
    const counters = this.definition.counters;
    if (counters === undefined) return;
    const a = counters(after);
    const b = before === undefined ? { failures: 0, retries: 0 } : counters(before);
    this.counts.processFailures += Math.max(0, a.failures - b.failures);
    this.counts.processRetries += Math.max(0, a.retries - b.retries);
  }

  /** Decides (and encodes) one piece of work on top of the round so far; throws without side effects. */
  private async decideWork(task: Task<S>, work: Work, round: Round<S>['states'], spans: Span[]): Promise<Round<S>> {
    const part = emptyRound<S>();
    const changed = new Map<string, { state: S; trace: TraceHeaders }>();
    const emitted: Array<{ readonly out: Outgoing; readonly trace: TraceHeaders }> = [];
    const stateOf = (id: string): S | undefined => changed.get(id)?.state ?? round.get(id)?.state ?? task.states.get(id);
    /** Decides one input in a span of its own, a child of its cause's (a record's headers, or the step that set a deadline). */
    const apply = (input: I, where: string, step: string, cause: IHeaders | TraceHeaders | undefined): boolean => {
      const id = this.definition.processId(input);
      const before = stateOf(id) ?? this.definition.initialState(id);
      const span = startStep(`${this.definition.name} ${step}`, cause, { 'restaurant.process.id': id, 'restaurant.process.input': where });
      spans.push(span);
      let decision;
      try {
        decision = this.definition.decide(input, before);
      } catch (cause) {
        throw new ProcessingError(`${this.definition.name} could not decide ${where} for process ${id}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
      }
      part.decided += 1;
      if (span.isRecording()) span.setAttributes({ 'restaurant.process.changed': decision.changed, 'restaurant.process.status': this.definition.status(decision.state), 'restaurant.process.emitted': decision.emit.map((o) => o.type) });
      if (!decision.changed) return false;
      part.changed += 1;
      const trace = traceHeadersOf(span);
      changed.set(id, { state: decision.state, trace });
      for (const out of decision.emit) emitted.push({ out, trace });
      return true;
    };
    switch (work.kind) {
      case 'batch': {
        const { batch } = work;
        // Below the committed offset: decided and committed already (perhaps by a previous owner after our consumer fetched).
        const floor = task.committed.get(batch.topic) ?? -1;
        if (batch.consumedUpTo <= floor) return part;
        const records = batch.records.filter((r) => r.offset >= floor);
        part.dead.push(...batch.deadLetters.filter((l) => l.offset >= floor));
        const inputs = await this.definition.inputsFor(records, stateOf);
        inputs.forEach((input, i) => {
          const r = records[i];
          if (input !== null && r !== undefined) apply(input, `${r.type} at ${r.topic}/${r.partition}@${r.offset}`, `step ${r.type}`, r.headers);
        });
        part.offsets.set(batch.topic, batch.consumedUpTo);
        break;
      }
      case 'deadlines':
        for (const entry of work.due) {
          if (entry.epoch !== task.epoch) continue; // queued before a restore, which queued it again
          const state = stateOf(entry.processId);
          // Checked again: the round may have changed the process since the deadline came due.
          if (state === undefined || !this.definition.deadlines(state).some((d) => d.name === entry.name && d.dueAt === entry.dueAt)) continue;
          const deadline: Deadline = { name: entry.name, dueAt: entry.dueAt };
          if (apply(this.definition.deadlineInput(entry.processId, deadline), `deadline ${entry.name}@${entry.dueAt}`, 'deadline', entry.trace)) part.fired += 1;
        }
        break;
      case 'flush':
        break;
    }
    // Encoded here, so a decision whose output its schema refuses is that input's fault (dead-lettered), not the round's.
    try {
      for (const { out: o, trace } of emitted) {
        part.emit.push({
          topic: this.physical(o.topic),
          type: o.type,
          message: {
            key: o.key,
            value: await this.options.codec.encode(o.topic, o.recordName, o.value),
            partition: partitionFor(o.partitionKey, this.catalog.topic(o.topic).partitions),
            headers: { ...o.headers, ...trace } satisfies IHeaders,
          },
        });
      }
      for (const [id, { state, trace }] of changed) {
        const partition = partitionFor(id, this.changelog.partitions);
        if (partition !== task.partition) throw new Error(`process ${id} belongs to partition ${partition}, not ${task.partition}: its inputs are not keyed by the process id`);
        const value = await this.options.codec.encode(this.changelog.logical, this.definition.stateRecord, state);
        part.states.set(id, { state, trace, record: { key: id, value, partition, headers: { ...trace } } });
      }
    } catch (cause) {
      if (cause instanceof RegistryError && cause.retriable) throw cause;
      throw new ProcessingError(`${this.definition.name} could not encode what it decided: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    return part;
  }

  /** One Kafka transaction: emitted messages, changed states, dead letters, consumed offsets. */
  private async transact(task: Task<S>, round: Round<S>, offsets: ReadonlyMap<string, number>): Promise<void> {
    const byTopic = new Map<string, Message[]>();
    const add = (topic: string, message: Message): void => {
      const list = byTopic.get(topic);
      if (list === undefined) byTopic.set(topic, [message]);
      else list.push(message);
    };
    for (const { topic, message } of round.emit) add(topic, message);
    for (const { record } of round.states.values()) add(this.changelog.physical, record);
    for (const letter of round.dead) {
      add(dlqTopicName(letter.topic), { key: letter.key, value: letter.value, partition: letter.partition, headers: deadLetterHeaders(letter, this.groupId) });
    }
    const transaction = await task.producer.transaction();
    try {
      if (byTopic.size > 0) await transaction.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
      if (offsets.size > 0) {
        await transaction.sendOffsets({
          consumerGroupId: this.groupId,
          topics: [...offsets].map(([topic, offset]) => ({ topic, partitions: [{ partition: task.partition, offset: String(offset) }] })),
        });
      }
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => undefined);
      throw error;
    }
    this.counts.transactions += 1;
    this.log.debug({ partition: task.partition, decided: round.decided, changed: round.changed, emitted: round.emit.length, dead: round.dead.length }, 'transaction committed');
  }

  private armFlush(task: Task<S>): void {
    if (task.flushTimer !== undefined || this.stopping) return;
    task.flushTimer = setTimeout(() => {
      task.flushTimer = undefined;
      if (task.retired || this.stopping) return;
      this.submit(task, { kind: 'flush' }).catch((error: unknown) => this.log.warn({ err: error, partition: task.partition }, 'offset flush failed; the offsets ride with the next transaction'));
    }, this.options.offsetFlushMs ?? 1_000);
  }

  // ------------------------------------------------------------ deadlines

  private armTimer(): void {
    if (this.stopping) return;
    const next = this.deadlines.peek();
    if (next === undefined || (this.timer !== undefined && this.timerAt <= next.fireAt)) return;
    clearTimeout(this.timer);
    this.timerAt = next.fireAt;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        void this.fireDue();
      },
      Math.min(MAX_TIMER_MS, Math.max(0, next.fireAt - this.clock())),
    );
  }

  private async fireDue(): Promise<void> {
    if (this.firing || this.stopping) return;
    this.firing = true;
    const due = this.deadlines.popDue(this.clock());
    try {
      const byTask = new Map<Task<S>, QueuedDeadline[]>();
      for (const entry of due) {
        const task = this.tasks.get(entry.partition);
        if (task === undefined || task.retired || entry.epoch !== task.epoch || !this.pending(task, entry)) continue;
        const list = byTask.get(task);
        if (list === undefined) byTask.set(task, [entry]);
        else list.push(entry);
      }
      if (byTask.size > 0) {
        const ends = await this.inputEnds();
        for (const [task, entries] of byTask) {
          const needs = new Map(this.inputs.map((topic) => [topic, ends.get(topic)?.get(task.partition) ?? 0] as const));
          task.gates.push({ needs, due: entries });
          this.openGates(task);
        }
      }
    } catch (error) {
      this.log.warn({ err: error, deadlines: due.length }, 'could not fire due deadlines; trying again shortly');
      const fireAt = this.clock() + RETRY_FIRING_MS;
      for (const entry of due) this.deadlines.push({ ...entry, fireAt });
    } finally {
      this.firing = false;
      this.armTimer();
    }
  }

  /** Whether the process still has this deadline (most are cancelled by an answer before they come due). */
  private pending(task: Task<S>, entry: QueuedDeadline): boolean {
    const state = task.states.get(entry.processId);
    return state !== undefined && this.definition.deadlines(state).some((d) => d.name === entry.name && d.dueAt === entry.dueAt);
  }

  /** The end (last stable offset) of every input partition now. */
  private async inputEnds(): Promise<Map<string, Map<number, number>>> {
    const admin = this.admin;
    if (admin === undefined) throw new Error('the runtime is not started');
    const ends = new Map<string, Map<number, number>>();
    for (const topic of this.inputs) ends.set(topic, new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)])));
    return ends;
  }

  /** Submits the due deadlines whose inputs have been consumed far enough. */
  private openGates(task: Task<S>): void {
    const open = task.gates.filter((g) => [...g.needs].every(([topic, end]) => (task.positions.get(topic) ?? 0) >= end));
    if (open.length === 0) return;
    task.gates = task.gates.filter((g) => !open.includes(g));
    this.submit(task, { kind: 'deadlines', due: open.flatMap((g) => g.due) }).catch((error: unknown) =>
      this.log.warn({ err: error, partition: task.partition }, 'deadlines not fired; trying again shortly'),
    );
  }

  private progressed(topic: string, partition: number, nextOffset: number): void {
    const task = this.tasks.get(partition);
    if (task === undefined || task.retired) return;
    if (nextOffset > (task.positions.get(topic) ?? 0)) task.positions.set(topic, nextOffset);
    // A batch of only transaction markers never reaches write(): its offset rides with the next transaction, or a flush.
    if (nextOffset > Math.max(task.committed.get(topic) ?? -1, task.pendingOffsets.get(topic) ?? -1)) {
      task.pendingOffsets.set(topic, nextOffset);
      this.armFlush(task);
    }
    if (task.gates.length > 0) this.openGates(task);
  }
}
