// A projector: one read model's projection driven by the EventConsumer, written
// to Redis with the batch script (redis-batch.ts).
//
// Per partition batch:
// * first ONE pipelined read: which of the batch's aggregates are parked
//   (HMGET of the parked hash, parking.ts) and, for stateful models (orders,
//   sales: read-modify-write), an MGET of the batch aggregates' state
//   documents and version keys; the state is threaded through each
//   aggregate's events in memory, skipping events not newer than the version
//   read (so skipped events never touch the state);
// * then ONE EVALSHA with the events' ops and the checkpoint, whose guard
//   (re-)checks every version server-side; the events of parked aggregates go
//   in it as parking writes instead of ops. Two round trips (a third, of the
//   parked versions, only for a batch that parks something). Only one consumer
//   owns a partition (and so an aggregate) at a time; should a fenced-off
//   zombie write between the read and the script, the guard skips what it
//   already applied, and since projections are deterministic the documents it
//   wrote equal ours.
import { tracingStarted } from '../../../infra/tracing/sdk';
import { endSpan, startBatchSpans } from '../../../infra/tracing/spans';
import type Redis from 'ioredis';
import { ReplyError } from 'ioredis';
import type { Kafka } from 'kafkajs';
import type { Counter, Histogram } from 'prom-client';
import type { AvroCodec } from '../../../infra/kafka/codec';
import type { Logger } from '../../../infra/logging';
import { Metrics } from '../../../infra/metrics/registry';
import type { EventMetadata } from '../../../schemas/generated/types';
import { checkpointKey, parkedKey, parkedVersionKey, rebuildKey, versionKey, type ReadModelName } from '../shared/keys';
import type { WriteOp } from '../shared/ops';
import type { RetryPolicy } from '../../../infra/consuming/backoff';
import { EventConsumer } from '../../../infra/consuming/event-consumer';
import { CheckpointMismatchError, ProcessingError, type BatchSink, type Checkpointing, type DecodedRecord, type PartitionBatch, type PartitionProgress } from '../../../infra/consuming/batch-sink';
import { projectionMetrics, reportParked, type ParkedSource, type ProjectionMetrics } from './metrics';
import { consumerMetrics } from '../../../infra/consuming/consumer-metrics';
import { metadataOf, parkedEventOfFailed, parkingWrite, planParking, type ParkingPlan } from './parking';
import { applyBatch, checkpointField, encodeBatch, parseCheckpoint, type EncodedBatch, type GuardedWrite } from './redis-batch';
import { projectionGroupId, READ_MODEL_SPECS, type ReadModelSpec } from './read-models';

/** A record as a projection sees it: the event (type and payload), its metadata, and where it was read. */
export interface ProjectedEnvelope {
  readonly event: { readonly type: string; readonly data: Record<string, unknown> };
  readonly metadata: EventMetadata;
  readonly offset: number;
}

/** A stateful model's per-aggregate state as read before a batch (or threaded through it), with its version. */
export interface AggregateState {
  state: unknown;
  version: number;
}

/** Splits decoded event records into event payload and metadata. */
export function envelopesOf(records: readonly DecodedRecord[]): ProjectedEnvelope[] {
  return records.map((r) => {
    const { metadata, ...data } = r.value as { metadata: EventMetadata } & Record<string, unknown>;
    return { event: { type: r.type, data }, metadata, offset: r.offset };
  });
}

/**
 * Runs a batch's events through the projection: the guarded writes to send,
 * in order. Stateful models (`current` given: every aggregate of the batch
 * with the state and version read before it) thread each aggregate's state
 * through its events in memory and leave out events not newer than the version
 * read (counted in `preSkipped`); `current` ends with the state after the
 * batch. Pure but for `current`. A projection that throws becomes a
 * ProcessingError naming the event.
 */
export function projectBatch(
  spec: ReadModelSpec,
  keyspace: string,
  envelopes: readonly ProjectedEnvelope[],
  current: Map<string, AggregateState> | undefined,
): { writes: GuardedWrite[]; preSkipped: number } {
  const { projection, name } = spec;
  const versionPrefix = versionKey(keyspace, name, '');
  const writes: GuardedWrite[] = [];
  let preSkipped = 0;
  for (const { event, metadata, offset } of envelopes) {
    const id = metadata.aggregateId;
    let state: unknown = null;
    let known: AggregateState | undefined;
    if (current !== undefined) {
      known = current.get(id);
      if (known === undefined) {
        known = { state: projection.initialState, version: 0 };
        current.set(id, known);
      }
      if (metadata.version <= known.version) {
        preSkipped += 1; // the guard would skip it; keep the state as it is
        continue;
      }
      state = known.state;
    }
    let step: { state: unknown; ops: readonly WriteOp[] };
    try {
      step = projection.apply(state ?? projection.initialState, event, metadata, keyspace);
    } catch (cause) {
      throw new ProcessingError(`${name} could not project ${event.type} ${id}@${metadata.version} (offset ${offset}): ${(cause as Error).message}`, { cause });
    }
    if (known !== undefined) {
      known.state = step.state;
      known.version = metadata.version;
    }
    writes.push({ versionKey: versionPrefix + id, version: metadata.version, ops: step.ops });
  }
  return { writes, preSkipped };
}

/** A partition batch's guarded writes with its checkpoint, as the batch script's KEYS and ARGV. */
export function encodePartitionBatch(keyspace: string, model: ReadModelName, writes: readonly GuardedWrite[], batch: PartitionBatch): EncodedBatch {
  const checkpoint = { nextOffset: batch.nextOffset, expected: batch.expectedCheckpoint, consumedUpTo: batch.consumedUpTo };
  return encodeBatch(keyspace, model, writes, new Map([[checkpointField(batch.topic, batch.partition), checkpoint]]));
}

export class RedisProjectionSink implements BatchSink, Checkpointing, ParkedSource {
  /** Redis holds the checkpoint, written with the read model (event-consumer.ts). */
  readonly checkpointing: Checkpointing = this;
  private readonly redis: Redis;
  /** Events applied and skipped by the guard, for tests and benchmarks. */
  readonly stats = { applied: 0, skipped: 0, parked: 0 };

  /** This read model's series, bound once: a replay observes every event. */
  private readonly metrics:
    | {
        readonly applied: Counter.Internal;
        readonly skipped: Counter.Internal;
        readonly parked: Counter.Internal;
        readonly lag: Histogram.Internal<string>;
      }
    | undefined;

  constructor(
    redis: Redis,
    private readonly spec: ReadModelSpec,
    readonly keyspace: string,
    metrics?: ProjectionMetrics,
  ) {
    this.redis = redis;
    const labels = { read_model: spec.name };
    this.metrics = metrics && {
      applied: metrics.events.labels({ ...labels, result: 'applied' }),
      skipped: metrics.events.labels({ ...labels, result: 'skipped' }),
      parked: metrics.events.labels({ ...labels, result: 'parked' }),
      lag: metrics.lag.labels(labels),
    };
  }

  get readModel(): string {
    return this.spec.name;
  }

  parkedAggregates(): Promise<number> {
    return this.redis.hlen(parkedKey(this.keyspace, this.spec.name));
  }

  async checkpoints(topic: string): Promise<ReadonlyMap<number, number>> {
    const hash = await this.redis.hgetall(checkpointKey(this.keyspace, this.spec.name));
    return parseCheckpoint(hash).get(topic) ?? new Map();
  }

  async rebuildTargets(topic: string): Promise<ReadonlyMap<number, number>> {
    const hash = await this.redis.hgetall(rebuildKey(this.keyspace, this.spec.name));
    return parseCheckpoint(hash).get(topic) ?? new Map();
  }

  async restart(topic: string, partition: number, from: number, until: number): Promise<void> {
    const field = checkpointField(topic, partition);
    const tx = this.redis.multi().hset(checkpointKey(this.keyspace, this.spec.name), field, String(from));
    if (until > from) tx.hset(rebuildKey(this.keyspace, this.spec.name), field, String(until));
    else tx.hdel(rebuildKey(this.keyspace, this.spec.name), field);
    await tx.exec();
  }

  async rebuilt(topic: string, partition: number): Promise<void> {
    await this.redis.hdel(rebuildKey(this.keyspace, this.spec.name), checkpointField(topic, partition));
  }

  /**
   * The guarded writes that park `park` (parking.ts). Events already recorded
   * (a redelivery: not above the aggregate's `parked-v`) are left out here and
   * counted in `already`, so the script writes all the others.
   */
  private async parkingWrites(park: ParkingPlan['park']): Promise<{ writes: GuardedWrite[]; already: number }> {
    if (park.length === 0) return { writes: [], already: 0 };
    const { name } = this.spec;
    const ks = this.keyspace;
    const ids = [...new Set(park.map((p) => p.event.aggregateId))];
    const versions = await this.redis.mget(...ids.map((id) => parkedVersionKey(ks, name, id)));
    const reached = new Map(ids.map((id, i) => [id, Number(versions[i] ?? 0)]));
    const writes: GuardedWrite[] = [];
    let already = 0;
    for (const { event, summary } of park) {
      if (event.version <= (reached.get(event.aggregateId) ?? 0)) {
        already += 1;
        continue;
      }
      reached.set(event.aggregateId, event.version);
      writes.push(parkingWrite(ks, name, event, summary));
    }
    return { writes, already };
  }

  /** Applies a batch; a span per trace among its records (linked to each of them) when tracing records (docs/tracing.md). */
  async write(batch: PartitionBatch): Promise<void> {
    // Tracing off: not even the batch's header list is built.
    if (!tracingStarted()) return this.apply(batch);
    const spans = startBatchSpans(`projector ${this.spec.name} batch`, batch.records.map((r) => r.headers), {
      'restaurant.read_model': this.spec.name,
      'messaging.destination.name': batch.topic,
      'messaging.destination.partition.id': String(batch.partition),
    });
    if (spans.length === 0) return this.apply(batch);
    try {
      await this.apply(batch);
    } catch (error) {
      for (const span of spans) endSpan(span, error);
      throw error;
    }
    for (const span of spans) span.end();
  }

  private async apply(batch: PartitionBatch): Promise<void> {
    const { projection, name } = this.spec;
    const ks = this.keyspace;
    const failed = batch.failed ?? [];
    const now = Date.now();
    const failedIds = failed.flatMap((f) => parkedEventOfFailed(f, 'head', now)?.aggregateId ?? []);
    const ids = [...new Set([...batch.records.map((r) => metadataOf(r).aggregateId), ...failedIds])];
    const stateful = ids.length > 0 && projection.stateKey(ks, ids[0] as string) !== null;
    // One round trip: which of the batch's aggregates are parked, and (stateful models) their state and version.
    const read = this.redis.pipeline();
    if (ids.length > 0) read.hmget(parkedKey(ks, name), ...ids);
    if (stateful) {
      const versionPrefix = versionKey(ks, name, '');
      read.mget(...ids.map((id) => projection.stateKey(ks, id) as string), ...ids.map((id) => versionPrefix + id));
    }
    const replies = ids.length > 0 ? await read.exec() : [];
    const reply = (i: number): unknown => {
      const [error, value] = replies?.[i] ?? [new Error('no reply'), null];
      if (error) throw error;
      return value;
    };
    const parked = new Map<string, string>();
    if (ids.length > 0) (reply(0) as (string | null)[]).forEach((summary, i) => summary !== null && parked.set(ids[i] as string, summary));
    const current = stateful ? new Map<string, AggregateState>() : undefined;
    if (current !== undefined) {
      const values = reply(1) as (string | null)[];
      ids.forEach((id, i) => {
        const doc = values[i];
        const version = values[ids.length + i];
        current.set(id, { state: doc === null || doc === undefined ? projection.initialState : (JSON.parse(doc) as unknown), version: version ? Number(version) : 0 });
      });
    }
    // Parking: dead-lettered messages park their aggregates; a parked aggregate's later events are recorded, not applied.
    const { live, park } = planParking(batch.records, failed, parked, now);
    const parking = await this.parkingWrites(park);
    const envelopes = envelopesOf(live);
    const { writes, preSkipped } = projectBatch(this.spec, ks, envelopes, current);
    const encoded = encodePartitionBatch(ks, name, [...writes, ...parking.writes], batch);
    try {
      const [written, skipped] = await applyBatch(this.redis, encoded);
      // Parking writes already recorded were left out before (parkingWrites), so the rest are written.
      const applied = written - parking.writes.length;
      this.stats.applied += applied;
      this.stats.skipped += skipped + preSkipped + parking.already;
      this.stats.parked += parking.writes.length;
      if (this.metrics) {
        this.metrics.applied.inc(applied);
        this.metrics.skipped.inc(skipped + preSkipped + parking.already);
        this.metrics.parked.inc(parking.writes.length);
        const now = Date.now();
        for (const { metadata } of envelopes) this.metrics.lag.observe(Math.max(0, now - metadata.occurredAt) / 1000);
      }
    } catch (error) {
      const message = (error as Error).message;
      if (error instanceof ReplyError && message.startsWith('CHECKPOINT_MISMATCH')) {
        throw new CheckpointMismatchError(`${name} (${ks}) checkpoint of ${batch.topic}:${batch.partition}: ${message}`, { cause: error });
      }
      // Redis answered, but refused (WRONGTYPE, a bad increment): retrying the same write will not help.
      if (error instanceof ReplyError) throw new ProcessingError(`Redis refused the ${name} batch: ${message}`, { cause: error });
      throw error;
    }
  }
}

export interface ProjectorOptions {
  readonly kafka: Kafka;
  readonly codec: AvroCodec;
  readonly redis: Redis;
  readonly logger: Logger;
  readonly model: ReadModelName;
  /** The read model's projection and topics; default READ_MODEL_SPECS[model] (a test injects a projection fault through it). */
  readonly spec?: ReadModelSpec;
  readonly keyspace: string;
  /** Override the events topics (tests and benchmarks read their own topics). */
  readonly topics?: readonly string[];
  readonly groupId?: string;
  readonly retry?: RetryPolicy;
  /** The process registry; without one the projector's metrics go to a private registry nobody reads. */
  readonly metrics?: Metrics;
  /** How often to look for a vanished checkpoint (the EventConsumer's watchdog, default 1000 ms). */
  readonly checkpointCheckMs?: number;
  readonly onProgress?: (progress: PartitionProgress) => void;
}

export class Projector {
  readonly consumer: EventConsumer;
  readonly sink: RedisProjectionSink;
  readonly groupId: string;
  private readonly metrics: Metrics;
  private unreport: () => void = () => undefined;

  constructor(options: ProjectorOptions) {
    const spec = options.spec ?? READ_MODEL_SPECS[options.model];
    this.groupId = options.groupId ?? projectionGroupId(options.model, options.keyspace);
    const metrics = options.metrics ?? new Metrics({ defaultMetrics: false });
    this.metrics = metrics;
    this.sink = new RedisProjectionSink(options.redis, spec, options.keyspace, projectionMetrics(metrics));
    this.consumer = new EventConsumer({
      kafka: options.kafka,
      codec: options.codec,
      logger: options.logger.child({ component: 'projector', readModel: options.model, keyspace: options.keyspace }),
      groupId: this.groupId,
      topics: options.topics ?? spec.topics,
      handles: spec.projection.handles,
      sink: this.sink,
      metrics: consumerMetrics(metrics),
      ...(options.retry === undefined ? {} : { retry: options.retry }),
      ...(options.checkpointCheckMs === undefined ? {} : { checkpointCheckMs: options.checkpointCheckMs }),
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    });
  }

  async start(): Promise<void> {
    await this.consumer.start();
    this.unreport = reportParked(this.metrics, this.sink);
  }

  async stop(): Promise<void> {
    this.unreport();
    await this.consumer.stop();
  }
}

export type { ReadModelName };
