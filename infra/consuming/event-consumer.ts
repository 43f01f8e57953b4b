// The generic consumer machinery of the read side and the process managers: a
// kafkajs consumer group reading topics with eachBatch, skipping event types
// the handler does not want by the `event-type` header (without decoding),
// decoding the rest with the AvroCodec, dead-lettering what cannot be decoded,
// and handing each partition batch to a BatchSink that writes it together with
// its checkpoint. Projectors (consumers/projections/runtime/projector.ts) and the
// stateful runtime (infra/stateful/) are both BatchSinks, of two kinds:
//
// * a transactional sink (the process managers) commits the consumed offsets
//   itself, inside its Kafka transaction (`autoCommit: false`, no
//   `checkpointing`); it gets the assignment first (`assigned`) to fence and
//   restore its state, and writes the batch's dead letters in the same
//   transaction (`writesDeadLetters`). It starts at the group's committed
//   offsets.
//   A queuing one (`queues`: the stateful runtime's decoupled fetch) only
//   queues the batch in `write` and moves the consumer itself (`rewind`,
//   `pause`, `resume`).
// * a checkpointing sink (the projectors) keeps its own checkpoint (a Redis
//   hash written atomically with the data), which is the source of truth. On
//   every assignment (GROUP_JOIN) the consumer reads it and seeks each assigned
//   partition:
// * no checkpoint: the read model has nothing of this partition (a new read
//   model, or a store that lost its data while the group was stopped), so the
//   partition is rebuilt from its first offset. The sink records the end offset
//   to reach (its rebuild marker), which readers use to say "rebuilding";
// * the group's committed offset is behind the checkpoint: someone moved it
//   back on purpose (`kafka-consumer-groups --reset-offsets`, `npm run replay
//   -- --to <time|offset>`), so messages are redelivered from there; the
//   sink's version guard skips what is already applied and applies what is
//   missing (docs/operations.md);
// * otherwise: the checkpoint.
// Offsets are also committed to Kafka after each batch (for lag, and for the
// rule above).
//
// Every write tells the sink which checkpoint it expects to find. A store that
// lost its data (a Redis restart without persistence) no longer has it, and
// refuses the write (CheckpointMismatchError); a watchdog also looks for
// vanished checkpoints while nothing is written. Either way the partition is
// rebuilt from its first offset, by itself.
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
//   others are written. The sink is told of every message dead-lettered this
//   way or for a DecodeError with the write that moves the checkpoint past it
//   (`failed`), so a projector parks its aggregate there (parking.ts).
import type { Admin, Consumer, ConsumerConfig, EachBatchPayload, IHeaders, Kafka, KafkaMessage, PartitionAssigner, Producer } from 'kafkajs';
import { DecodeError, type AvroCodec } from '../kafka/codec';
import type { Logger } from '../logging';
import { trackMembership, type Membership } from '../kafka/membership';
import { CONSUMER_RETRY } from '../kafka/retry';
import { backoffDelay, DEFAULT_RETRY, withRetries, type RetryPolicy } from './backoff';
import { DeadLetterQueue, type DeadLetter } from './dead-letters';
import { initialiseConsumer, type ConsumerMetrics } from './consumer-metrics';

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
  /** The offset after the last record read, transaction markers included (>= nextOffset). */
  readonly consumedUpTo: number;
  /** The checkpoint the consumer believes is stored (undefined: none); the sink refuses the write when it is not. */
  readonly expectedCheckpoint: number | undefined;
  /**
   * Messages of this batch that the consumer has already written to the DLQ
   * (a sink that does not write dead letters itself): undecodable ones, and
   * records that kept failing. A sink that parks aggregates (the projectors)
   * parks theirs, atomically with the checkpoint; others ignore them.
   */
  readonly failed?: readonly FailedRecord[];
}

/** A dead-lettered message, with its decoded record when it could be decoded (a record that kept failing). */
export interface FailedRecord {
  readonly letter: DeadLetter;
  readonly record?: DecodedRecord;
}

/** What a sink that keeps its own checkpoint (the projectors) offers the consumer. */
export interface Checkpointing {
  /** The stored checkpoint: next offset per partition of `topic` (absent = none). */
  checkpoints(topic: string): Promise<ReadonlyMap<number, number>>;
  /** Partitions of `topic` being rebuilt from the start, with the end offset each must reach. */
  rebuildTargets(topic: string): Promise<ReadonlyMap<number, number>>;
  /** Starts a partition again: its checkpoint becomes `from`; it is rebuilding until `until` is read (none when until <= from). */
  restart(topic: string, partition: number, from: number, until: number): Promise<void>;
  /** The partition has been read up to its rebuild target. */
  rebuilt(topic: string, partition: number): Promise<void>;
}

export interface BatchSink {
  /** Present on a sink with its own checkpoint; without it, the group's committed offsets are where reading starts. */
  readonly checkpointing?: Checkpointing;
  /**
   * Called on every assignment, before any batch of it is written (e.g. to
   * fence and restore state). Assignments are taken on one at a time: a later
   * one waits until this call has returned or thrown. `superseded` is aborted
   * as soon as a later assignment arrives (a rebalance while this one is
   * restoring): stop early, keeping what was restored; the later call goes on
   * from there.
   */
  assigned?(assignment: Readonly<Record<string, readonly number[]>>, superseded: AbortSignal): Promise<void>;
  /** True when `write` puts `batch.deadLetters` in the DLQ itself, atomically with the batch. */
  readonly writesDeadLetters?: boolean;
  /**
   * True when `write` only queues the batch and returns (the stateful runtime's
   * decoupled fetch): the batch is handed over only if no seek is pending for
   * its partition, and the sink moves the consumer itself (`rewind`, `pause`,
   * `resume`) and isolates failing records itself.
   */
  readonly queues?: boolean;
  /**
   * Applies the records and stores `nextOffset` (forward only), atomically. A
   * checkpointing sink does so only if the stored checkpoint is
   * `expectedCheckpoint`, and throws CheckpointMismatchError without writing
   * anything otherwise.
   */
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

/** The stored checkpoint is not the one the consumer expected: its view is stale, not the message's fault. */
export class CheckpointMismatchError extends Error {
  override readonly name = 'CheckpointMismatchError';
  readonly retriable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** How far a partition has been read, for progress reports (the replay tool). */
export interface PartitionProgress {
  readonly topic: string;
  readonly partition: number;
  /** The offset after the last record read, transaction markers included. */
  readonly position: number;
  /** Messages in the batch just read. */
  readonly messages: number;
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
  readonly metrics?: ConsumerMetrics;
  /** How often to look for checkpoints that vanished while nothing was written (default 1000 ms; 0: never). */
  readonly checkpointCheckMs?: number;
  /** Told after every batch read, transaction-marker-only batches included. */
  readonly onProgress?: (progress: PartitionProgress) => void;
}

const header = (headers: IHeaders | undefined, name: string): string | undefined => {
  const raw = headers?.[name];
  const value = Array.isArray(raw) ? raw[0] : raw;
  return value === undefined ? undefined : value.toString();
};

const defaultIsRetriable = (error: unknown): boolean =>
  !(typeof error === 'object' && error !== null && 'retriable' in error && (error as { retriable: unknown }).retriable === false);

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** What the consumer knows about one assigned partition. Replaced, never edited, when the partition is sought elsewhere. */
interface PartitionState {
  /** Where the sink's checkpoint stands, as far as this consumer knows. */
  stored: number | undefined;
  /** Messages below this offset are not processed (the offset sought to). */
  readonly from: number;
  /** The offset after the last record read (markers included). */
  position: number;
  /** Set while the partition is rebuilt from the start: the end offset to reach. */
  rebuildUntil: number | undefined;
}

const keyOf = (topic: string, partition: number): string => `${topic}:${partition}`;

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
  private partitions = new Map<string, PartitionState>();
  private assignment: Record<string, number[]> = {};
  /** One resync at a time per partition. */
  private readonly resyncs = new Map<string, Promise<void>>();
  private watchdog: NodeJS.Timeout | undefined;
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
  private readonly isRetriable: (error: unknown) => boolean;
  private readonly log: Logger;
  /** Counters for health and tests. */
  readonly stats = { batches: 0, records: 0, skipped: 0, deadLettered: 0, rebuilds: 0 };

  constructor(private readonly options: EventConsumerOptions) {
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.isRetriable = options.isRetriable ?? defaultIsRetriable;
    this.log = options.logger.child({ group: options.groupId });
    if (options.metrics) initialiseConsumer(options.metrics, options.groupId);
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
    this.membership = trackMembership(consumer, `group ${groupId}`);
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      // Runs synchronously inside kafkajs's join, before fetching starts; eachBatch waits for it.
      this.joins += 1;
      this.joinedAs = payload.memberId;
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
    const every = this.options.checkpointCheckMs ?? 1000;
    if (every > 0 && sink.checkpointing !== undefined) {
      this.watchdog = setInterval(() => void this.lookForLostCheckpoints(), every);
      this.watchdog.unref();
    }
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
    clearInterval(this.watchdog);
    clearTimeout(this.markerCommit);
    if (this.autoCommit) await this.commitPositions();
    await this.consumer?.disconnect();
    await Promise.all([...this.resyncs.values()].map((r) => r.catch(() => undefined)));
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
    const offsets = [...this.partitions].flatMap(([key, state]) => {
      const colon = key.lastIndexOf(':');
      return state.position < 0 ? [] : [{ topic: key.slice(0, colon), partition: Number(key.slice(colon + 1)), offset: String(state.position) }];
    });
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

  /** For a queuing sink: read `partition` of `topic` again from `offset` (batches fetched before are dropped as stale). */
  rewind(topic: string, partition: number, offset: number): void {
    const key = keyOf(topic, partition);
    if (this.stopping || !this.partitions.has(key)) return;
    this.partitions.set(key, { stored: undefined, from: -1, position: offset, rebuildUntil: undefined });
    try {
      this.consumer?.seek({ topic, partition, offset: String(offset) });
    } catch (error) {
      this.log.error({ err: error, topic, partition, offset }, 'could not rewind the consumer; the partition is read again from its committed offset after a rebalance');
    }
  }

  /** For a queuing sink: stop fetching `partition` of `topic` until `resume`. */
  pause(topic: string, partition: number): void {
    this.consumer?.pause([{ topic, partitions: [partition] }]);
  }

  resume(topic: string, partition: number): void {
    this.consumer?.resume([{ topic, partitions: [partition] }]);
  }

  /** Partitions being rebuilt from the start by this consumer, with the end offset each must reach. */
  rebuilding(): ReadonlyMap<string, number> {
    return new Map([...this.partitions].flatMap(([key, s]) => (s.rebuildUntil === undefined ? [] : [[key, s.rebuildUntil] as const])));
  }

  private async watermarks(topic: string): Promise<Map<number, { low: number; high: number }>> {
    const offsets = await (this.admin as Admin).fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, { low: Number(o.low), high: Number(o.high) }]));
  }

  private async committed(topic: string): Promise<Map<number, number>> {
    const [entry] = await (this.admin as Admin).fetchOffsets({ groupId: this.options.groupId, topics: [topic] });
    return new Map((entry?.partitions ?? []).filter((p) => Number(p.offset) >= 0).map((p) => [p.partition, Number(p.offset)]));
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
    this.partitions = new Map();
    this.assignment = assignment;
    const { checkpointing } = this.options.sink;
    await this.options.sink.assigned?.(assignment, superseded);
    if (checkpointing === undefined) return this.followCommittedOffsets(assignment);
    const positions: Record<string, string> = {};
    for (const [topic, partitions] of Object.entries(assignment)) {
      const [stored, targets, committed, marks] = await Promise.all([
        checkpointing.checkpoints(topic),
        checkpointing.rebuildTargets(topic),
        this.committed(topic),
        this.watermarks(topic),
      ]);
      for (const partition of partitions) {
        const { low, high } = marks.get(partition) ?? { low: 0, high: 0 };
        const checkpoint = stored.get(partition);
        // A checkpoint past the partition's end belongs to other data: the topic was recreated, or the store holds
        // another cluster's model. What it has cannot be trusted to match these events: rebuild.
        if (checkpoint === undefined || checkpoint > high) {
          await this.restart(topic, partition, low, high, checkpoint === undefined ? 'no_checkpoint' : 'checkpoint_ahead');
          positions[keyOf(topic, partition)] = `rebuild ${low}..${high}`;
          continue;
        }
        const behind = committed.get(partition);
        const from = behind !== undefined && behind < checkpoint ? Math.max(behind, low) : checkpoint;
        const state: PartitionState = { stored: checkpoint, from, position: from, rebuildUntil: targets.get(partition) };
        this.partitions.set(keyOf(topic, partition), state);
        if (from < checkpoint) this.log.info({ topic, partition, committed: behind, checkpoint }, 'committed offset moved behind the checkpoint: redelivering from it');
        if (state.rebuildUntil !== undefined && checkpoint >= state.rebuildUntil) await this.finishRebuild(topic, partition, state);
        this.consumer?.seek({ topic, partition, offset: String(from) });
        positions[keyOf(topic, partition)] = String(from);
      }
    }
    this.refreshRebuildingGauge();
    this.log.info({ assignment, positions }, 'assigned; seeked to the stored checkpoints');
  }

  /**
   * A sink without a checkpoint of its own: kafkajs starts at the group's
   * committed offsets (else the earliest) and delivers in order from there, so
   * the position simply follows what is read (see onBatchRead).
   */
  private followCommittedOffsets(assignment: Record<string, number[]>): void {
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const partition of partitions) this.partitions.set(keyOf(topic, partition), { stored: undefined, from: -1, position: -1, rebuildUntil: undefined });
    }
    this.log.info({ assignment }, 'assigned');
  }

  /** The partition starts over from `from`: checkpoint reset, rebuilding until `until`. */
  private async restart(topic: string, partition: number, from: number, until: number, reason: 'no_checkpoint' | 'checkpoint_lost' | 'checkpoint_ahead'): Promise<void> {
    await this.options.sink.checkpointing?.restart(topic, partition, from, until);
    this.partitions.set(keyOf(topic, partition), { stored: from, from, position: from, rebuildUntil: until > from ? until : undefined });
    this.consumer?.seek({ topic, partition, offset: String(from) });
    this.stats.rebuilds += 1;
    this.options.metrics?.rebuilds.inc({ group: this.options.groupId, reason });
    this.refreshRebuildingGauge();
    const details = { topic, partition, from, until, reason };
    if (reason === 'checkpoint_lost') this.log.warn(details, 'the checkpoint vanished (the store lost its data?): rebuilding the partition from the first offset');
    else if (reason === 'checkpoint_ahead') this.log.warn(details, 'the checkpoint is past the end of the partition (the topic was recreated?): rebuilding the partition from the first offset');
    else if (until > from) this.log.info(details, 'no checkpoint for this partition: building it from the first offset');
  }

  private refreshRebuildingGauge(): void {
    this.options.metrics?.rebuilding.set({ group: this.options.groupId }, this.rebuilding().size);
  }

  private async finishRebuild(topic: string, partition: number, state: PartitionState): Promise<void> {
    await this.options.sink.checkpointing?.rebuilt(topic, partition);
    if (this.partitions.get(keyOf(topic, partition)) === state) state.rebuildUntil = undefined;
    this.refreshRebuildingGauge();
    this.log.info({ topic, partition, position: state.position }, 'partition rebuilt: caught up with where it stood when the rebuild began');
  }

  /**
   * The checkpoint is not where this consumer thought: read it again. Gone
   * (the store lost its data): rebuild the partition from the start. Present
   * (moved by someone else): continue from it.
   */
  private resync(topic: string, partition: number): Promise<void> {
    const key = keyOf(topic, partition);
    const running = this.resyncs.get(key);
    if (running) return running;
    const checkpointing = this.options.sink.checkpointing;
    const work = (async () => {
      if (this.stopping || checkpointing === undefined || !(this.assignment[topic] ?? []).includes(partition)) return;
      const stored = (await checkpointing.checkpoints(topic)).get(partition);
      if (stored === undefined) {
        const { low, high } = (await this.watermarks(topic)).get(partition) ?? { low: 0, high: 0 };
        await this.restart(topic, partition, low, high, 'checkpoint_lost');
        return;
      }
      const previous = this.partitions.get(key);
      this.partitions.set(key, { stored, from: stored, position: stored, rebuildUntil: previous?.rebuildUntil });
      this.consumer?.seek({ topic, partition, offset: String(stored) });
      this.log.warn({ topic, partition, expected: previous?.stored, stored }, 'checkpoint moved by another writer: continuing from it');
    })().finally(() => this.resyncs.delete(key));
    this.resyncs.set(key, work);
    return work;
  }

  /** A store that lost its data while nothing was being written: find the partitions whose checkpoint vanished. */
  private async lookForLostCheckpoints(): Promise<void> {
    const checkpointing = this.options.sink.checkpointing;
    if (this.stopping || checkpointing === undefined) return;
    try {
      for (const [topic, partitions] of Object.entries(this.assignment)) {
        const stored = await checkpointing.checkpoints(topic);
        for (const partition of partitions) {
          const state = this.partitions.get(keyOf(topic, partition));
          if (state?.stored !== undefined && !stored.has(partition)) await this.resync(topic, partition);
        }
      }
    } catch (error) {
      this.log.debug({ err: error }, 'checkpoint check failed; trying again later');
    }
  }

  /** kafkajs's report of a batch read, including batches of transaction markers only, which never reach eachBatch. */
  private onBatchRead(payload: { topic: string; partition: number; batchSize: number; firstOffset: string | null; lastOffset: string }): void {
    const state = this.partitions.get(keyOf(payload.topic, payload.partition));
    if (!state) return;
    const next = Number(payload.lastOffset) + 1;
    // A data batch moved the position in eachBatch; a marker-only batch moves it here if it follows on
    // (without a checkpoint of the sink's own, kafkajs reads on from the committed offset: it always does).
    // A queuing sink rewinds the consumer: a batch fetched before the rewind must not move the position past it.
    const queuing = this.options.sink.queues === true && state.position >= 0;
    const followsOn = (this.options.sink.checkpointing === undefined && !queuing) || (payload.firstOffset !== null && Number(payload.firstOffset) <= state.position);
    if (payload.batchSize === 0 && followsOn && next > state.position) {
      state.position = next;
      this.commitMarkersSoon();
    }
    this.options.onProgress?.({ topic: payload.topic, partition: payload.partition, position: state.position, messages: payload.batchSize });
    if (state.rebuildUntil !== undefined && state.position >= state.rebuildUntil) {
      this.finishRebuild(payload.topic, payload.partition, state).catch((error: unknown) =>
        this.log.warn({ err: error, topic: payload.topic, partition: payload.partition }, 'could not mark the partition rebuilt; trying again after the next batch'),
      );
    }
  }

  private async eachBatch({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }: EachBatchPayload): Promise<void> {
    // Nothing of an assignment is processed before it is taken on (rejects only when the consumer stops).
    await this.assignmentTakenOn(heartbeat);
    await this.resyncs.get(keyOf(batch.topic, batch.partition));
    // isStale: a seek is pending for this partition, so this batch was fetched from the old position.
    if (!isRunning() || isStale() || batch.messages.length === 0) return;
    const { topic, partition } = batch;
    const state = this.partitions.get(keyOf(topic, partition));
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
      const { records, dead } = await this.decodeAll(topic, partition, messages);
      const atomic = this.options.sink.writesDeadLetters === true;
      if (dead.length > 0 && !atomic) await this.deadLetter(dead);
      const failed = atomic || dead.length === 0 ? {} : { failed: dead.map((letter) => ({ letter })) };
      // A queuing sink is handed the batch in this same tick, so one fetched before its rewind never reaches it.
      if (this.options.sink.queues === true && isStale()) return;
      try {
        const stored = await this.write({ topic, partition, records, deadLetters: atomic ? dead : [], ...failed, nextOffset, consumedUpTo, expectedCheckpoint: state.stored });
        if (this.partitions.get(keyOf(topic, partition)) === state) state.stored = stored;
      } catch (error) {
        if (!(error instanceof CheckpointMismatchError)) throw error;
        this.log.warn({ topic, partition, err: error }, 'the stored checkpoint is not the expected one; resynchronising');
        await this.resync(topic, partition);
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
        // Known schemas decode at once; the first message of a schema asks the registry, with retries.
        const decoded = codec.decodeKnown(m.value) ?? await withRetries(
          this.retry,
          () => codec.decode(m.value),
          (error, attempt, delayMs) => {
            this.options.metrics?.retries.inc({ group: this.options.groupId, operation: 'decode' });
            this.log.warn({ err: error, topic, partition, offset, attempt, delayMs }, 'decode failed; retrying');
          },
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

  /** Writes a batch; returns where the stored checkpoint stands after it. */
  private async write(batch: PartitionBatch): Promise<number> {
    const log = this.log.child({ topic: batch.topic, partition: batch.partition });
    const after = (expected: number | undefined, next: number): number => Math.max(expected ?? next, next);
    const retryable = (error: unknown): boolean => !this.stopping && !(error instanceof CheckpointMismatchError);
    const onRetry = (error: unknown, attempt: number, delayMs: number): void => {
      this.options.metrics?.retries.inc({ group: this.options.groupId, operation: 'write' });
      log.warn({ err: error, attempt, delayMs, records: batch.records.length }, 'batch write failed; retrying');
    };
    const write = (b: PartitionBatch): Promise<void> => withRetries(this.retry, () => this.options.sink.write(b), onRetry, retryable);
    try {
      await write(batch);
      this.written(batch);
      return after(batch.expectedCheckpoint, batch.nextOffset);
    } catch (error) {
      if (error instanceof CheckpointMismatchError || this.isRetriable(error) || batch.records.length === 0) throw error;
      log.error({ err: error }, 'batch write keeps failing; writing its records one at a time to find the culprit');
    }
    let expected = batch.expectedCheckpoint;
    // The batch's own dead letters (a sink that writes them) go with the first write that succeeds.
    let deadLetters = batch.deadLetters;
    let failed = batch.failed ?? [];
    for (let i = 0; i < batch.records.length; i += 1) {
      const record = batch.records[i] as DecodedRecord;
      const next = i === batch.records.length - 1 ? batch.nextOffset : record.offset + 1;
      const one = { ...batch, records: [record], deadLetters, failed, nextOffset: next, consumedUpTo: i === batch.records.length - 1 ? batch.consumedUpTo : next, expectedCheckpoint: expected };
      try {
        await write(one);
        this.written(one);
      } catch (error) {
        if (error instanceof CheckpointMismatchError || this.isRetriable(error)) throw error;
        log.error({ err: error, offset: record.offset, eventType: record.type }, 'record keeps failing; dead-lettering it');
        const letter: DeadLetter = { topic: record.topic, partition: record.partition, offset: record.offset, key: record.key, value: record.rawValue, headers: record.headers, reason: 'processing-failed', error: messageOf(error) };
        if (this.options.sink.writesDeadLetters === true) {
          const skip = { ...one, records: [], deadLetters: [...deadLetters, letter] };
          await write(skip);
          this.written(skip);
        } else {
          await this.deadLetter([letter]);
          await write({ ...one, records: [], deadLetters: [], failed: [...failed, { record, letter }] });
        }
      }
      deadLetters = [];
      failed = [];
      expected = after(expected, next);
    }
    return after(batch.expectedCheckpoint, batch.nextOffset);
  }

  /** Counts a written batch, and the dead letters a transactional sink wrote with it. */
  private written(batch: PartitionBatch): void {
    this.stats.records += batch.records.length;
    if (batch.deadLetters.length === 0) return;
    this.stats.deadLettered += batch.deadLetters.length;
    for (const l of batch.deadLetters) {
      this.log.warn({ topic: l.topic, partition: l.partition, offset: l.offset, reason: l.reason, error: l.error }, 'dead-lettered a message');
      this.options.metrics?.deadLetters.inc({ group: this.options.groupId, reason: l.reason });
      this.options.metrics?.messages.inc({ group: this.options.groupId, result: 'dead_lettered' });
    }
  }

  private async deadLetter(letters: readonly DeadLetter[]): Promise<void> {
    for (const l of letters) this.log.warn({ topic: l.topic, partition: l.partition, offset: l.offset, reason: l.reason, error: l.error }, 'dead-lettering a message');
    await withRetries(
      this.retry,
      () => (this.dlq as DeadLetterQueue).send(letters),
      () => this.options.metrics?.retries.inc({ group: this.options.groupId, operation: 'dead_letter' }),
      () => !this.stopping,
    );
    this.stats.deadLettered += letters.length;
    for (const l of letters) {
      this.options.metrics?.deadLetters.inc({ group: this.options.groupId, reason: l.reason });
      this.options.metrics?.messages.inc({ group: this.options.groupId, result: 'dead_lettered' });
    }
  }
}
