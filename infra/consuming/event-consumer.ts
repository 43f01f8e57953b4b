// The generic consumer machinery of the read side and the process managers: a
// kafkajs consumer group reading topics with eachBatch, skipping event types
// the handler does not want by the `event-type` header (without decoding),
// decoding the rest with the AvroCodec, dead-lettering what cannot be decoded,
// and handing each partition batch to a BatchSink that writes it together with
// its checkpoint. Projectors (consumers/projections/runtime/projector.ts) and the
// stateful runtime (infra/stateful/) are both BatchSinks (batch-sink.ts), of two kinds:
//
// * a transactional sink (the process managers) commits the consumed offsets
//   itself, inside its Kafka transaction (`autoCommit: false`, no
//   `checkpointing`); it gets the assignment first (`assigned`) to fence and
//   restore its state, and writes the batch's dead letters in the same
//   transaction (`writesDeadLetters`). It starts at the group's committed
//   offsets. A queuing one (`queues`: the stateful runtime's decoupled fetch)
//   only queues the batch in `write` and moves the consumer itself (`rewind`,
//   `pause`, `resume`).
// * a checkpointing sink (the projectors) keeps its own checkpoint (a Redis
//   hash written atomically with the data), which is the source of truth. On
//   every assignment the consumer reads it and seeks each assigned partition
//   (partition-positions.ts). Offsets are also committed to Kafka after each
//   batch (for lag, and for redelivery after a reset).
//
// Every write tells the sink which checkpoint it expects to find. A store that
// lost its data (a Redis restart without persistence) no longer has it, and
// refuses the write (CheckpointMismatchError); a watchdog also looks for
// vanished checkpoints while nothing is written. Either way the partition is
// rebuilt from its first offset, by itself.
//
// Failures: a DecodeError (garbage, wrong magic byte, unknown schema id,
// corrupt body) is not retriable -> `<topic>.dlq` at once (decode-batch.ts); a
// sink write that fails is retried, then given back, or has its culprit found
// and dead-lettered (batch-writer.ts). The sink is told of every message
// dead-lettered with the write that moves the checkpoint past it (`failed`),
// so a projector parks its aggregate there (parking.ts).
import type { Admin, Consumer, ConsumerConfig, EachBatchPayload, Kafka, KafkaMessage, PartitionAssigner, Producer } from 'kafkajs';
import type { AvroCodec } from '../kafka/codec';
import type { Logger } from '../logging';
import { trackMembership, type Membership } from '../kafka/membership';
import { CONSUMER_RETRY } from '../kafka/retry';
import { backoffDelay, DEFAULT_RETRY, type RetryPolicy } from './backoff';
import { CheckpointMismatchError, type BatchSink, type PartitionProgress } from './batch-sink';
import { BatchWriter } from './batch-writer';
import { DeadLetterQueue } from './dead-letters';
import { decodeBatch, type DecodeContext } from './decode-batch';
import { initialiseConsumer, type ConsumerMetrics } from './consumer-metrics';
import { PartitionPositions } from './partition-positions';
import { PausedPartitions } from './paused-partitions';

export interface EventConsumerOptions {
  readonly kafka: Kafka;
  readonly codec: AvroCodec;
  readonly logger: Logger;
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Record types (short names) to decode and pass on; others are skipped by header. */
  readonly handles: ReadonlySet<string>;
  /** Topics whose records of a type not handled are dead letters (`unknown-record`), not skipped (tombstones are still skipped). */
  readonly deadLetterUnhandled?: ReadonlySet<string>;
  readonly sink: BatchSink;
  readonly retry?: RetryPolicy;
  /** Is this error worth retrying / not the message's fault? Default: `error.retriable !== false`. */
  readonly isRetriable?: (error: unknown) => boolean;
  readonly partitionsConsumedConcurrently?: number;
  /** Commit consumed offsets to Kafka after each batch (default true). A sink that commits offsets in its own transaction turns it off. */
  readonly autoCommit?: boolean;
  /** How the group spreads partitions over its members (kafkajs's round robin by default). */
  readonly partitionAssigners?: readonly PartitionAssigner[];
  /** Told the kafkajs consumer once it is made, before it joins (a sticky assigner follows its joins: `OwnedPartitions`). */
  readonly onConsumer?: (consumer: Consumer) => void;
  /** Consumer settings beyond the defaults (fetch sizes, session timeout, ...). */
  readonly consumerConfig?: Partial<Omit<ConsumerConfig, 'groupId' | 'partitionAssigners'>>;
  readonly metrics?: ConsumerMetrics;
  /** How often to look for checkpoints that vanished while nothing was written (default 1000 ms; 0: never). */
  readonly checkpointCheckMs?: number;
  /** Told after every batch read, transaction-marker-only batches included. */
  readonly onProgress?: (progress: PartitionProgress) => void;
}

const defaultIsRetriable = (error: unknown): boolean =>
  !(typeof error === 'object' && error !== null && 'retriable' in error && (error as { retriable: unknown }).retriable === false);

/** Taking on an assignment that failed is tried again after 250 ms, then up to every 2 s (docs/recovery.md). */
const ASSIGNMENT_RETRY: RetryPolicy = { attempts: Number.POSITIVE_INFINITY, initialDelayMs: 250, maxDelayMs: 2_000 };
/** How often a batch waiting for its assignment to be taken on heartbeats: well inside the 6 s session. */
const HEARTBEAT_WHILE_ASSIGNING_MS = 1_000;

export class EventConsumer {
  private consumer: Consumer | undefined;
  private producer: Producer | undefined;
  private admin: Admin | undefined;
  private dlq: DeadLetterQueue | undefined;
  private generation: Promise<void> = Promise.resolve();
  private readonly positions: PartitionPositions;
  /** What the sink paused: kept across kafkajs's restarts after a crash, which rebuild its group unpaused. */
  private readonly paused: PausedPartitions;
  private readonly writer: BatchWriter;
  private readonly decoding: DecodeContext;
  /** Armed when a batch of transaction markers only moved a position: kafkajs commits those only with a later batch. */
  private markerCommit: NodeJS.Timeout | undefined;
  private stopping = false;
  /** GROUP_JOINs so far: an assignment's number, so that a later one supersedes it. */
  private joins = 0;
  /** Aborted when a later assignment replaces the one being taken on. */
  private superseded: AbortController | undefined;
  private membership: Membership | undefined;
  /** This member's id in the group, from its last GROUP_JOIN (undefined before the first). */
  private joinedAs: string | undefined;
  /** True from an assignment until its checkpoints are read and state restored. */
  private assigning = false;
  private readonly retry: RetryPolicy;
  private readonly log: Logger;
  /** Counters for health and tests. */
  readonly stats = { batches: 0, records: 0, skipped: 0, deadLettered: 0, rebuilds: 0 };

  constructor(private readonly options: EventConsumerOptions) {
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.log = options.logger.child({ group: options.groupId });
    this.paused = new PausedPartitions(this.log);
    if (options.metrics) initialiseConsumer(options.metrics, options.groupId);
    const stopping = (): boolean => this.stopping;
    this.positions = new PartitionPositions({
      sink: options.sink,
      groupId: options.groupId,
      log: this.log,
      metrics: options.metrics,
      stats: this.stats,
      admin: () => {
        if (this.admin === undefined) throw new Error(`group ${options.groupId}: the consumer is not started`);
        return this.admin;
      },
      seek: (topic, partition, offset) => this.consumer?.seek({ topic, partition, offset: String(offset) }),
      stopping,
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    });
    this.decoding = {
      codec: options.codec,
      handles: options.handles,
      ...(options.deadLetterUnhandled === undefined ? {} : { deadLetterUnhandled: options.deadLetterUnhandled }),
      retry: this.retry,
      log: this.log,
      stopping,
      onRetry: () => options.metrics?.retries.inc({ group: options.groupId, operation: 'decode' }),
      onSkipped: () => {
        this.stats.skipped += 1;
      },
    };
    this.writer = new BatchWriter({
      sink: options.sink,
      groupId: options.groupId,
      retry: this.retry,
      isRetriable: options.isRetriable ?? defaultIsRetriable,
      log: this.log,
      metrics: options.metrics,
      dlq: () => this.dlq,
      stopping,
      stats: this.stats,
    });
  }

  async start(): Promise<void> {
    const { kafka, groupId, topics, sink } = this.options;
    this.admin = kafka.admin();
    await this.admin.connect();
    if (sink.writesDeadLetters !== true) {
      this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await this.producer.connect();
      this.dlq = new DeadLetterQueue(this.producer, groupId);
    }
    const consumer = kafka.consumer({
      maxWaitTimeInMs: 100,
      // Outlasts a node's or the active controller's loss instead of crashing out of the group (client.ts).
      retry: CONSUMER_RETRY,
      // A member killed without leaving (kill -9, a lost machine) holds its partitions until its session
      // runs out: 6 s, the broker's smallest by default, instead of kafkajs's 30 s (docs/recovery.md).
      sessionTimeout: 6_000,
      heartbeatInterval: 1_000,
      rebalanceTimeout: 20_000,
      ...this.options.consumerConfig,
      groupId,
      ...(this.options.partitionAssigners === undefined ? {} : { partitionAssigners: [...this.options.partitionAssigners] }),
    });
    this.consumer = consumer;
    this.options.onConsumer?.(consumer);
    this.membership = trackMembership(consumer, `group ${groupId}`);
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      // Runs synchronously inside kafkajs's join, before fetching starts; eachBatch waits for it.
      this.joins += 1;
      this.joinedAs = payload.memberId;
      this.paused.reapply(consumer);
      // One assignment taken on at a time: the one being taken on (perhaps a long restore) is told to stop,
      // and this one starts once it has, so no two open the same partition's state at once.
      this.superseded?.abort(new Error(`group ${this.options.groupId}: a later assignment (join ${this.joins}) replaced this one`));
      const superseded = new AbortController();
      this.superseded = superseded;
      const join = this.joins;
      const generation = this.generation.catch(() => undefined).then(() => this.takeOn(payload.memberAssignment, join, superseded.signal));
      this.assigning = true;
      generation.then(
        () => {
          if (this.generation === generation) this.assigning = false;
        },
        (error: unknown) => this.log.debug({ err: error }, 'stopped before the assignment was taken on'),
      );
      this.generation = generation;
    });
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => this.onBatchRead(payload));
    await consumer.connect();
    await consumer.subscribe({ topics: [...topics], fromBeginning: true });
    await consumer.run({
      autoCommit: this.autoCommit,
      // For lag monitoring only (the sink's checkpoint is the truth): once a second, not after every batch
      // (a transaction's commit marker alone makes a batch, so that could be a request per event).
      autoCommitInterval: 1_000,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 3,
      eachBatch: (payload) => this.eachBatch(payload),
    });
    this.positions.watch(this.options.checkpointCheckMs ?? 1000);
    this.log.info({ topics }, 'consuming');
  }

  /** Undefined while the consumer has its assignment and has taken it on; else why not (for readiness). */
  notReady(): string | undefined {
    if (this.membership === undefined) return `group ${this.options.groupId}: not started`;
    return this.membership.notReady() ?? (this.assigning ? `group ${this.options.groupId}: taking on its assignment` : undefined);
  }

  /** This member's id in its group as of its last assignment (to find its own assignment in a description of the group). */
  memberId(): string | undefined {
    return this.joinedAs;
  }

  /** Why this consumer will never consume again (kafkajs did not restart it after a crash); undefined while it may. */
  broken(): string | undefined {
    return this.membership?.broken();
  }

  private get autoCommit(): boolean {
    return this.options.autoCommit ?? true;
  }


  /** Stops fetching, lets the batch in flight finish its write, disconnects. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.markerCommit);
    if (this.autoCommit) await this.commitPositions();
    await this.consumer?.disconnect();
    await this.positions.stop();
    await this.producer?.disconnect();
    await this.admin?.disconnect();
  }

  /**
   * Commits how far each partition has been read (transaction markers
   * included), on the way out so a restart does not take the last second's
   * uncommitted offsets for a rewind (which would redeliver them: harmless
   * under the version guard, but needless), and after batches of markers only.
   */
  private async commitPositions(): Promise<void> {
    const offsets = [...this.positions.read()].map(({ topic, partition, position }) => ({ topic, partition, offset: String(position) }));
    if (offsets.length === 0) return;
    try {
      await this.consumer?.commitOffsets(offsets);
    } catch (error) {
      // A rebalance in progress, or the partitions just revoked: their next owner commits them.
      this.log.debug({ err: error }, 'could not commit the positions');
    }
  }

  /**
   * A batch of transaction markers only (the commit marker after a partition's
   * last record, fetched apart from it, or alone after a seek to the
   * checkpoint) is resolved by kafkajs but committed only if a second has
   * passed since its last commit, or with the next batch: an idle partition
   * would keep a committed offset one short of its end, a lag of 1 for
   * kafka-consumer-groups and restaurant_consumer_lag_messages. So the
   * positions are committed a second later (docs/operations.md, lag).
   */
  private commitMarkersSoon(): void {
    if (!this.autoCommit || this.stopping || this.markerCommit !== undefined) return;
    this.markerCommit = setTimeout(() => {
      this.markerCommit = undefined;
      if (!this.stopping) void this.commitPositions();
    }, 1_000);
    this.markerCommit.unref();
  }

  /** For a sink that reports its own positions (`autoCommit: false`): commits `offsets` to the group, outside any transaction. */
  async commitOffsets(offsets: ReadonlyArray<{ readonly topic: string; readonly partition: number; readonly offset: string }>): Promise<void> {
    if (this.consumer === undefined) throw new Error(`group ${this.options.groupId}: the consumer is not started`);
    await this.consumer.commitOffsets([...offsets]);
  }

  /** For a queuing sink: read `partition` of `topic` again from `offset` (batches fetched before are dropped as stale). */
  rewind(topic: string, partition: number, offset: number): void {
    if (this.stopping || !this.positions.rewound(topic, partition, offset)) return;
    try {
      this.consumer?.seek({ topic, partition, offset: String(offset) });
    } catch (error) {
      this.log.error({ err: error, topic, partition, offset }, 'could not rewind the consumer; the partition is read again from its committed offset after a rebalance');
    }
  }

  /** For a queuing sink: stop fetching `partition` of `topic` until `resume`. */
  pause(topic: string, partition: number): void {
    this.paused.pause(this.consumer, topic, partition);
  }

  resume(topic: string, partition: number): void {
    this.paused.resume(this.consumer, topic, partition);
  }

  /** Partitions being rebuilt from the start by this consumer, with the end offset each must reach. */
  rebuilding(): ReadonlyMap<string, number> {
    return this.positions.rebuilding();
  }

  /**
   * Takes on an assignment (onAssignment), again and again until it succeeds,
   * the consumer stops, or a later assignment replaces it. Reading where each
   * partition stands asks the partitions' leaders and the group coordinator,
   * so it fails for a few seconds after a broker is lost. It cannot be left to
   * kafkajs: an error out of eachBatch only restarts its fetch loop, in the
   * same generation, without a new GROUP_JOIN, so the assignment would never
   * be taken on and its partitions never processed (docs/cluster.md).
   */
  private async takeOn(assignment: Record<string, number[]>, join: number, superseded: AbortSignal): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      if (join !== this.joins) return; // a later assignment replaced this one: it takes that on
      try {
        await this.onAssignment(assignment, superseded);
        return;
      } catch (error) {
        if (this.stopping) throw error;
        if (superseded.aborted) {
          this.log.info({ join, err: error }, 'a later assignment replaced this one while it was being taken on; that one goes on from here');
          return;
        }
        const delayMs = backoffDelay(ASSIGNMENT_RETRY, attempt + 1);
        this.log.warn({ err: error, attempt, delayMs }, 'taking on the assignment failed; trying again');
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        if (this.stopping) throw error;
        if (join !== this.joins) return; // a later assignment replaced this one: it takes that on
      }
    }
  }

  /**
   * Waits until the latest assignment is taken on, heartbeating meanwhile so
   * the member keeps its partitions; a heartbeat that finds the group
   * rebalancing throws, and kafkajs joins again (a new assignment).
   */
  private async assignmentTakenOn(heartbeat: () => Promise<void>): Promise<void> {
    for (;;) {
      const generation = this.generation;
      let timer: NodeJS.Timeout | undefined;
      const settled = await Promise.race([
        generation.then(() => true),
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), HEARTBEAT_WHILE_ASSIGNING_MS);
        }),
      ]).finally(() => clearTimeout(timer));
      if (settled && generation === this.generation) return;
      if (!settled) await heartbeat();
    }
  }


  private async onAssignment(assignment: Record<string, number[]>, superseded: AbortSignal): Promise<void> {
    this.positions.reset(assignment);
    await this.options.sink.assigned?.(assignment, superseded);
    await this.positions.take();
  }

  /** kafkajs's report of a batch read, including batches of transaction markers only, which never reach eachBatch. */
  private onBatchRead(payload: { topic: string; partition: number; batchSize: number; firstOffset: string | null; lastOffset: string }): void {
    if (this.positions.batchRead(payload)) this.commitMarkersSoon();
  }


  private async eachBatch({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }: EachBatchPayload): Promise<void> {
    // Nothing of an assignment is processed before it is taken on (rejects only when the consumer stops).
    await this.assignmentTakenOn(heartbeat);
    await this.positions.resyncing(batch.topic, batch.partition);
    // isStale: a seek is pending for this partition, so this batch was fetched from the old position.
    if (!isRunning() || isStale() || batch.messages.length === 0) return;
    const { topic, partition } = batch;
    const state = this.positions.get(topic, partition);
    if (!state) return; // not (or no longer) ours
    const started = process.hrtime.bigint();
    const group = this.options.groupId;
    const messages = batch.messages.filter((m) => Number(m.offset) >= state.from);
    const last = batch.messages[batch.messages.length - 1] as KafkaMessage;
    const nextOffset = Number(last.offset) + 1;
    // The batch's last offset counts a trailing transaction marker or aborted record too.
    const lastOffset = batch.lastOffset();
    const consumedUpTo = Math.max(nextOffset, Number(lastOffset) + 1);
    if (messages.length > 0) {
      const { records, dead } = await decodeBatch(this.decoding, topic, partition, messages);
      const atomic = this.options.sink.writesDeadLetters === true;
      if (dead.length > 0 && !atomic) await this.writer.deadLetter(dead);
      const failed = atomic || dead.length === 0 ? {} : { failed: dead.map((letter) => ({ letter })) };
      // A queuing sink is handed the batch in this same tick, so one fetched before its rewind never reaches it.
      if (this.options.sink.queues === true && isStale()) return;
      try {
        const stored = await this.writer.write({ topic, partition, records, deadLetters: atomic ? dead : [], ...failed, nextOffset, consumedUpTo, expectedCheckpoint: state.stored });
        if (this.positions.get(topic, partition) === state) state.stored = stored;
      } catch (error) {
        if (!(error instanceof CheckpointMismatchError)) throw error;
        this.log.warn({ topic, partition, err: error }, 'the stored checkpoint is not the expected one; resynchronising');
        await this.positions.resync(topic, partition);
        return; // not resolved: read again from wherever the resync sought
      }
      this.options.metrics?.messages.inc({ group, result: 'processed' }, records.length);
      this.options.metrics?.messages.inc({ group, result: 'skipped' }, messages.length - records.length - dead.length);
    }
    state.position = Math.max(state.position, consumedUpTo);
    resolveOffset(lastOffset);
    if (this.autoCommit) await commitOffsetsIfNecessary();
    await heartbeat();
    this.stats.batches += 1;
    this.options.metrics?.batchMessages.observe({ group }, batch.messages.length);
    this.options.metrics?.batchDuration.observe({ group }, Number(process.hrtime.bigint() - started) / 1e9);
  }
}
