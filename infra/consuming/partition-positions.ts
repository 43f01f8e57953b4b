// Where each assigned partition stands, for the EventConsumer
// (event-consumer.ts): how far it has been read, and, for a sink with a
// checkpoint of its own (the projectors), where that checkpoint is and where
// reading must start on every assignment (docs/read-side.md):
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
// A checkpoint that vanished (a Redis restart without persistence), found by a
// refused write or by the watchdog while nothing is written, has its partition
// rebuilt from its first offset; one moved by another writer is followed.
import type { Admin } from 'kafkajs';
import type { Logger } from '../logging';
import type { BatchSink, PartitionProgress } from './batch-sink';
import type { ConsumerMetrics } from './consumer-metrics';

/** What the consumer knows about one assigned partition. Replaced, never edited, when the partition is sought elsewhere. */
export interface PartitionState {
  /** Where the sink's checkpoint stands, as far as this consumer knows. */
  stored: number | undefined;
  /** Messages below this offset are not processed (the offset sought to). */
  readonly from: number;
  /** The offset after the last record read (markers included). */
  position: number;
  /** Set while the partition is rebuilt from the start: the end offset to reach. */
  rebuildUntil: number | undefined;
}

export interface PositionsContext {
  readonly sink: BatchSink;
  readonly groupId: string;
  readonly log: Logger;
  readonly metrics: ConsumerMetrics | undefined;
  /** The consumer's counters, counted on here. */
  readonly stats: { rebuilds: number };
  admin(): Admin;
  /** Sends the consumer of a partition to `offset`. */
  seek(topic: string, partition: number, offset: number): void;
  stopping(): boolean;
  readonly onProgress?: (progress: PartitionProgress) => void;
}

type RestartReason = 'no_checkpoint' | 'checkpoint_lost' | 'checkpoint_ahead';

export const keyOf = (topic: string, partition: number): string => `${topic}:${partition}`;

export class PartitionPositions {
  private partitions = new Map<string, PartitionState>();
  private assignment: Record<string, number[]> = {};
  /** One resync at a time per partition. */
  private readonly resyncs = new Map<string, Promise<void>>();
  private watchdog: NodeJS.Timeout | undefined;

  constructor(private readonly ctx: PositionsContext) {}

  get(topic: string, partition: number): PartitionState | undefined {
    return this.partitions.get(keyOf(topic, partition));
  }

  /** How far each assigned partition has been read (undefined: nothing read yet). */
  *read(): Generator<{ readonly topic: string; readonly partition: number; readonly position: number }> {
    for (const [key, state] of this.partitions) {
      const colon = key.lastIndexOf(':');
      if (state.position >= 0) yield { topic: key.slice(0, colon), partition: Number(key.slice(colon + 1)), position: state.position };
    }
  }

  /** A queuing sink's rewind: the partition is read again from `offset`. False when it is not assigned here. */
  rewound(topic: string, partition: number, offset: number): boolean {
    const key = keyOf(topic, partition);
    if (!this.partitions.has(key)) return false;
    this.partitions.set(key, { stored: undefined, from: -1, position: offset, rebuildUntil: undefined });
    return true;
  }

  /** The resync of the partition under way, if any (its batches wait for it). */
  resyncing(topic: string, partition: number): Promise<void> | undefined {
    return this.resyncs.get(keyOf(topic, partition));
  }

  /** Looks for vanished checkpoints every `everyMs` while nothing is written (a sink with a checkpoint of its own). */
  watch(everyMs: number): void {
    if (everyMs <= 0 || this.ctx.sink.checkpointing === undefined) return;
    this.watchdog = setInterval(() => void this.lookForLostCheckpoints(), everyMs);
    this.watchdog.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.watchdog);
    await Promise.all([...this.resyncs.values()].map((r) => r.catch(() => undefined)));
  }

  /** Partitions being rebuilt from the start by this consumer, with the end offset each must reach. */
  rebuilding(): ReadonlyMap<string, number> {
    return new Map([...this.partitions].flatMap(([key, s]) => (s.rebuildUntil === undefined ? [] : [[key, s.rebuildUntil] as const])));
  }

  /** A new assignment: nothing is known of its partitions until `take` (the sink may restore state in between). */
  reset(assignment: Record<string, number[]>): void {
    this.partitions = new Map();
    this.assignment = assignment;
  }

  /** Where each partition of the assignment starts: the sink's checkpoint (sought to), or the group's committed offset. */
  async take(): Promise<void> {
    const { assignment } = this;
    const { checkpointing } = this.ctx.sink;
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
        if (from < checkpoint) this.ctx.log.info({ topic, partition, committed: behind, checkpoint }, 'committed offset moved behind the checkpoint: redelivering from it');
        if (state.rebuildUntil !== undefined && checkpoint >= state.rebuildUntil) await this.finishRebuild(topic, partition, state);
        this.ctx.seek(topic, partition, from);
        positions[keyOf(topic, partition)] = String(from);
      }
    }
    this.refreshRebuildingGauge();
    this.ctx.log.info({ assignment, positions }, 'assigned; seeked to the stored checkpoints');
  }

  /**
   * A sink without a checkpoint of its own: kafkajs starts at the group's
   * committed offsets (else the earliest), or where the sink's `startAt` says,
   * and delivers in order from there, so the position simply follows what is
   * read (see batchRead).
   */
  private followCommittedOffsets(assignment: Record<string, number[]>): void {
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const partition of partitions) {
        this.partitions.set(keyOf(topic, partition), { stored: undefined, from: -1, position: -1, rebuildUntil: undefined });
        const at = this.ctx.sink.startAt?.(topic, partition);
        if (at !== undefined) this.ctx.seek(topic, partition, at);
      }
    }
    this.ctx.log.info({ assignment }, 'assigned');
  }

  /**
   * kafkajs's report of a batch read, including batches of transaction markers
   * only, which never reach eachBatch. Returns true when such a batch moved the
   * position (its offsets are then worth committing soon).
   */
  batchRead(payload: { topic: string; partition: number; batchSize: number; firstOffset: string | null; lastOffset: string }): boolean {
    const state = this.partitions.get(keyOf(payload.topic, payload.partition));
    if (!state) return false;
    const next = Number(payload.lastOffset) + 1;
    // A data batch moved the position in eachBatch; a marker-only batch moves it here if it follows on
    // (without a checkpoint of the sink's own, kafkajs reads on from the committed offset: it always does).
    // A queuing sink rewinds the consumer: a batch fetched before the rewind must not move the position past it.
    const queuing = this.ctx.sink.queues === true && state.position >= 0;
    const followsOn = (this.ctx.sink.checkpointing === undefined && !queuing) || (payload.firstOffset !== null && Number(payload.firstOffset) <= state.position);
    const moved = payload.batchSize === 0 && followsOn && next > state.position;
    if (moved) state.position = next;
    this.ctx.onProgress?.({ topic: payload.topic, partition: payload.partition, position: state.position, messages: payload.batchSize });
    if (state.rebuildUntil !== undefined && state.position >= state.rebuildUntil) {
      this.finishRebuild(payload.topic, payload.partition, state).catch((error: unknown) =>
        this.ctx.log.warn({ err: error, topic: payload.topic, partition: payload.partition }, 'could not mark the partition rebuilt; trying again after the next batch'),
      );
    }
    return moved;
  }

  /**
   * The checkpoint is not where this consumer thought: read it again. Gone
   * (the store lost its data): rebuild the partition from the start. Present
   * (moved by someone else): continue from it.
   */
  resync(topic: string, partition: number): Promise<void> {
    const key = keyOf(topic, partition);
    const running = this.resyncs.get(key);
    if (running) return running;
    const checkpointing = this.ctx.sink.checkpointing;
    const work = (async () => {
      if (this.ctx.stopping() || checkpointing === undefined || !(this.assignment[topic] ?? []).includes(partition)) return;
      const stored = (await checkpointing.checkpoints(topic)).get(partition);
      if (stored === undefined) {
        const { low, high } = (await this.watermarks(topic)).get(partition) ?? { low: 0, high: 0 };
        await this.restart(topic, partition, low, high, 'checkpoint_lost');
        return;
      }
      const previous = this.partitions.get(key);
      this.partitions.set(key, { stored, from: stored, position: stored, rebuildUntil: previous?.rebuildUntil });
      this.ctx.seek(topic, partition, stored);
      this.ctx.log.warn({ topic, partition, expected: previous?.stored, stored }, 'checkpoint moved by another writer: continuing from it');
    })().finally(() => this.resyncs.delete(key));
    this.resyncs.set(key, work);
    return work;
  }

  /** The partition starts over from `from`: checkpoint reset, rebuilding until `until`. */
  private async restart(topic: string, partition: number, from: number, until: number, reason: RestartReason): Promise<void> {
    const { ctx } = this;
    await ctx.sink.checkpointing?.restart(topic, partition, from, until);
    this.partitions.set(keyOf(topic, partition), { stored: from, from, position: from, rebuildUntil: until > from ? until : undefined });
    ctx.seek(topic, partition, from);
    ctx.stats.rebuilds += 1;
    ctx.metrics?.rebuilds.inc({ group: ctx.groupId, reason });
    this.refreshRebuildingGauge();
    const details = { topic, partition, from, until, reason };
    if (reason === 'checkpoint_lost') ctx.log.warn(details, 'the checkpoint vanished (the store lost its data?): rebuilding the partition from the first offset');
    else if (reason === 'checkpoint_ahead') ctx.log.warn(details, 'the checkpoint is past the end of the partition (the topic was recreated?): rebuilding the partition from the first offset');
    else if (until > from) ctx.log.info(details, 'no checkpoint for this partition: building it from the first offset');
  }

  private refreshRebuildingGauge(): void {
    this.ctx.metrics?.rebuilding.set({ group: this.ctx.groupId }, this.rebuilding().size);
  }

  private async finishRebuild(topic: string, partition: number, state: PartitionState): Promise<void> {
    await this.ctx.sink.checkpointing?.rebuilt(topic, partition);
    if (this.partitions.get(keyOf(topic, partition)) === state) state.rebuildUntil = undefined;
    this.refreshRebuildingGauge();
    this.ctx.log.info({ topic, partition, position: state.position }, 'partition rebuilt: caught up with where it stood when the rebuild began');
  }

  /** A store that lost its data while nothing was being written: find the partitions whose checkpoint vanished. */
  private async lookForLostCheckpoints(): Promise<void> {
    const checkpointing = this.ctx.sink.checkpointing;
    if (this.ctx.stopping() || checkpointing === undefined) return;
    try {
      for (const [topic, partitions] of Object.entries(this.assignment)) {
        const stored = await checkpointing.checkpoints(topic);
        for (const partition of partitions) {
          const state = this.partitions.get(keyOf(topic, partition));
          if (state?.stored !== undefined && !stored.has(partition)) await this.resync(topic, partition);
        }
      }
    } catch (error) {
      this.ctx.log.debug({ err: error }, 'checkpoint check failed; trying again later');
    }
  }

  private async watermarks(topic: string): Promise<Map<number, { low: number; high: number }>> {
    const offsets = await this.ctx.admin().fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, { low: Number(o.low), high: Number(o.high) }]));
  }

  private async committed(topic: string): Promise<Map<number, number>> {
    const [entry] = await this.ctx.admin().fetchOffsets({ groupId: this.ctx.groupId, topics: [topic] });
    return new Map((entry?.partitions ?? []).filter((p) => Number(p.offset) >= 0).map((p) => [p.partition, Number(p.offset)]));
  }
}
