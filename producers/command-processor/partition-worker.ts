// One worker per partition number p — or, with partition groups of size k
// (COMMAND_PARTITIONS_PER_WORKER), per group of k consecutive numbers — decides
// the commands of those partitions of every command topic (the group's
// assigner keeps them together on one member) and writes each batch in ONE
// Kafka transaction with its own transactional producer, `<group>.p<p>`
// (`<group>.p<first>-<last>` for a group): for each partition p it decided,
//
//   events     restaurant.<aggregate>.events    partition p, key <id>/<version>
//   snapshots  restaurant.<aggregate>.snapshots partition p, key <id>
//   replies    restaurant.command-replies       partition p (mod its count), key commandId
//   dead letters for undecodable commands        restaurant.<aggregate>.commands.dlq
//   parked commands, their tombstones            restaurant.<aggregate>.commands.parked  (parking.ts)
//   operators' actions on them                   restaurant.dead-letter-actions
//   the position: a CommandCheckpoint            restaurant.<aggregate>.snapshots partition p, key @checkpoint/<group>
//
// Larger groups mean fewer, larger transactions (each costs the broker
// AddPartitionsToTxn, Produce and EndTxn round trips and commit markers
// whatever it carries), and fewer processors that can share the work.
//
// The position goes into the snapshot partition rather than to the group
// coordinator (sendOffsets): it commits with the outputs all the same, it is
// restored by the same read as the state, and a transaction needs two requests
// fewer (AddOffsetsToTxn, TxnOffsetCommit) and one commit marker fewer. The
// group's offsets are still committed, outside the transactions and at most
// once a second, for lag monitoring only.
//
// Binding the transactional id to the partition number (or group) fences a
// zombie: the next owner's first transaction (at start) bumps the producer epoch, so a
// paused previous owner can no longer commit, and whatever it left open is
// aborted before this worker restores state.
//
// State is each lane's on-disk store (aggregate-store.ts), a cache of its
// snapshot partition. It is written only after the transaction committed, with
// the snapshot offset after the transaction's snapshot records (from the
// produce response), so it never holds what the committed log does not. A
// failed transaction, or a store write that fails after the commit, throws: the
// processor drops the worker and starts a fresh one, which fences, restores
// the store's delta from the snapshot partition, and goes on from the checkpoint.
//
// Split: lane.ts (what a worker holds per command partition), decide-lane.ts
// (deciding a lane's commands), write-round.ts (the transaction).
import { performance } from 'node:perf_hooks';
import type { KafkaMessage, Producer } from 'kafkajs';
import { endSpan } from '../../infra/tracing/spans';
import { decideLane, type Decided } from './decide-lane';
import type { Lane, WorkerContext } from './lane';
import { OffsetGuessMissed, writeRound, type Written } from './write-round';


export class PartitionWorker {
  /** Set when the worker must take no more work (revoked, stopping, or its transaction failed). */
  retired = false;
  running: Promise<void> | undefined;

  constructor(
    readonly partitions: readonly number[],
    readonly producer: Producer,
    /** By `laneKey(command topic, partition)`. */
    readonly lanes: ReadonlyMap<string, Lane>,
    private readonly context: WorkerContext,
  ) {}

  /** Closes the lanes' stores (kept on disk). */
  close(): void {
    for (const lane of this.lanes.values()) lane.entries.close();
  }

  get queued(): number {
    let n = 0;
    for (const lane of this.lanes.values()) n += lane.queue.length;
    return n;
  }

  /**
   * Decides everything queued, at most `max` commands per transaction, until
   * the queues are empty or the worker is retired. Throws when a transaction
   * failed (it was aborted; this worker's state must not be used again).
   */
  async drain(max: number, afterEach: () => void): Promise<void> {
    while (!this.retired && this.queued > 0) {
      const chunks = new Map<Lane, KafkaMessage[]>();
      let room = max;
      for (const lane of this.lanes.values()) {
        if (room === 0) break;
        const chunk = lane.queue.splice(0, room);
        if (chunk.length > 0) chunks.set(lane, chunk);
        room -= chunk.length;
      }
      await this.decideInTransaction(chunks);
      for (const [lane, chunk] of chunks) lane.committed = Number((chunk[chunk.length - 1] as KafkaMessage).offset) + 1;
      afterEach();
    }
  }

  private async decideInTransaction(chunks: ReadonlyMap<Lane, readonly KafkaMessage[]>): Promise<void> {
    const { logger } = this.context;
    const t0 = performance.now();
    const first = [...chunks.values()][0]?.[0];
    const waited = Date.now() - Number(first?.timestamp ?? Date.now());
    const decided: Decided[] = [];
    for (const [lane, chunk] of chunks) decided.push(await decideLane(this.context, lane, chunk));
    const tDecided = performance.now();

    const predicted = new Map<Lane, number>();
    for (const d of decided) if (d.lane.nextEventOffset !== undefined) predicted.set(d.lane, d.lane.nextEventOffset);
    const allPredicted = decided.every((d) => d.eventMessages.length === 0 || predicted.has(d.lane));
    let written: Written;
    try {
      try {
        written = await writeRound(this.producer, this.context, decided, allPredicted ? predicted : undefined);
      } catch (error) {
        for (const d of decided) d.lane.nextEventOffset = undefined;
        if (!(error instanceof OffsetGuessMissed)) throw error;
        logger.info({ topic: error.topic, partition: error.partition, guessed: error.guessed, actual: error.actual }, 'event offset guess missed; writing the events first');
        written = await writeRound(this.producer, this.context, decided, undefined);
      }
    } catch (error) {
      for (const d of decided) {
        this.context.metrics?.failed(d.lane.runtime.aggregate);
        for (const span of d.spans) endSpan(span, error);
      }
      throw error;
    }
    for (const d of decided) for (const span of d.spans) span.end();
    const seconds = (performance.now() - t0) / 1000;
    for (const d of decided) {
      this.context.metrics?.committed({
        aggregate: d.lane.runtime.aggregate,
        handled: d.outcomes.map((o) => o.handled),
        deadLettered: d.deadLetters.length,
        commandTimestamps: d.chunk.map((m) => Number(m.timestamp)),
        seconds,
      });
    }
    await this.context.betweenCommitAndStore?.(this.partitions);
    for (const d of decided) {
      const stored = written.stored.get(d.lane);
      // Committed to Kafka but not stored: throws, and the next worker restores the store's delta from the snapshot partition.
      if (stored === undefined) throw new Error(`the broker did not report where the snapshots of ${d.lane.topics.snapshots}:${d.lane.partition} were written`);
      d.lane.entries.committed(written.entries.get(d.lane) ?? new Map(), stored.checkpoint, stored.offset);
      d.lane.parking.commit(d.parking);
      const base = written.bases.get(d.lane);
      if (d.eventMessages.length > 0 && base !== undefined) d.lane.nextEventOffset = base + d.eventMessages.length + 1;
    }
    logger.debug(
      { partitions: this.partitions, commands: decided.reduce((n, d) => n + d.chunk.length, 0), waitedMs: waited, decideMs: Math.round(tDecided - t0), ...written.timing },
      'transaction committed',
    );
  }
}
