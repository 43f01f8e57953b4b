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
import { performance } from 'node:perf_hooks';
import type { IHeaders, KafkaMessage, Message, Producer } from 'kafkajs';
import type { CommandCheckpoint, CommandMetadata, CommandReply } from '../../schemas/generated/types';
import { eventKey } from '../../schemas/partitioning';
import { COMMAND_REPLIES_TOPIC, dlqTopicName } from '../../schemas/topics';
import { AvroCodec, DecodeError } from '../../infra/kafka/codec';
import { sendPerPartition } from '../../infra/kafka/transactions';
import type { Logger } from '../../infra/logging';
import type { AggregateRuntime } from './aggregates';
import { handleCommand, withReply, type AggregateEntry, type Handled } from './handle';
import { CHECKPOINT_RECORD, checkpointKey, foldVersionOf, type AggregateStore } from './aggregate-store';
import type { Span } from '@opentelemetry/api';
import { traceHeadersOf, type TraceHeaders } from '../../infra/tracing/propagation';
import { endSpan, startStep } from '../../infra/tracing/spans';
import type { CommandProcessorMetrics } from './metrics';
import { FOLD_VERSION_HEADER } from '../../infra/state/changelog-restore';
import { PARKING_REQUEST } from '../../schemas/loader';
import type { ParkingPart } from '../../infra/stateful/round-parking';
import { actionMessage, parkedInputMessages } from '../../infra/stateful/round-parking';
import { decideRequest, parkLetter, refusal, type LaneParking } from './parking';

const REPLY_RECORD = 'restaurant.common.CommandReply';
export { CHECKPOINT_KEY_PREFIX, CHECKPOINT_RECORD, checkpointKey } from './aggregate-store';

/** A worker's lanes are keyed by command topic and partition. */
export const laneKey = (topic: string, partition: number): string => `${topic}:${partition}`;

export interface LaneTopics {
  readonly commands: string;
  readonly events: string;
  readonly snapshots: string;
}

/** One command partition's share of a worker: partition p of one command topic and its aggregates. */
export interface Lane {
  readonly partition: number;
  readonly runtime: AggregateRuntime;
  readonly topics: LaneTopics;
  readonly entries: AggregateStore;
  /** The lane's parked aggregates (parking.ts). */
  readonly parking: LaneParking;
  /** Commands fetched and not yet decided, in offset order. */
  readonly queue: KafkaMessage[];
  /** The next offset to queue: a re-fetch (after a rebalance or a seek) never queues a command twice. */
  queuedUpTo: number;
  /** The offset after the last command committed (by this worker, or the group's committed offset at start). */
  committed: number;
  /** The offset after the last record fetched, transaction markers included, every command below it queued (lane-position.ts). */
  readUpTo: number;
  /**
   * Where this lane's next event will land, when known. The worker is the only
   * writer of its events partition, so after a transaction that wrote n events
   * from base b the next offset is b + n + 1 (one commit marker). With it the
   * events go in the same produce request as everything else; the broker's
   * answer is checked, and a wrong guess aborts and retries with the events
   * written first.
   */
  nextEventOffset: number | undefined;
  paused: boolean;
}

export interface WorkerContext {
  readonly codec: AvroCodec;
  readonly logger: Logger;
  readonly groupId: string;
  readonly clock: () => number;
  readonly repliesPartitions: number;
  /** Command record full names this processor decides. */
  readonly commandRecords: ReadonlySet<string>;
  readonly metrics: CommandProcessorMetrics | undefined;
  /** Called between a transaction's commit and its store writes: the crash point the crash tests kill -9 at. */
  readonly betweenCommitAndStore?: ((partitions: readonly number[]) => Promise<void>) | undefined;
}

interface Decided {
  readonly lane: Lane;
  readonly chunk: readonly KafkaMessage[];
  readonly outcomes: ReadonlyArray<{ readonly handled: Handled; readonly aggregateId: string; readonly trace: TraceHeaders }>;
  /** One span per command decided (docs/tracing.md), ended once the transaction is over. */
  readonly spans: readonly Span[];
  /** Entries after deciding, before the replies (with event offsets) are remembered in them. */
  readonly overlay: ReadonlyMap<string, AggregateEntry>;
  readonly deadLetters: ReadonlyArray<{ readonly message: KafkaMessage; readonly error: DecodeError }>;
  readonly eventMessages: Message[];
  /** What this transaction parks, unparks and records about parking. */
  readonly parking: ParkingPart;
}

/** The broker put a lane's events elsewhere than the worker expected; the transaction was aborted. */
class OffsetGuessMissed extends Error {
  override readonly name = 'OffsetGuessMissed';
  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly guessed: number,
    readonly actual: number,
  ) {
    super(`events of ${topic}:${partition} were expected at offset ${guessed} but landed at ${actual}`);
  }
}

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

  private async decide(lane: Lane, chunk: readonly KafkaMessage[]): Promise<Decided> {
    const { codec, logger, clock, commandRecords } = this.context;
    const { runtime, topics } = lane;
    const overlay = new Map<string, AggregateEntry>();
    const outcomes: Array<{ handled: Handled; aggregateId: string; trace: TraceHeaders }> = [];
    const spans: Span[] = [];
    const deadLetters: Array<{ message: KafkaMessage; error: DecodeError }> = [];
    const parking = lane.parking.part();
    const isCommand = (fullName: string): boolean => commandRecords.has(fullName) && fullName.startsWith(`${runtime.namespace}.`);
    const decideOne = async (fullName: string, value: { metadata: CommandMetadata } & Record<string, unknown>, headers: IHeaders | undefined): Promise<void> => {
      const { metadata, ...data } = value;
      const type = fullName.slice(runtime.namespace.length + 1);
      const current = overlay.get(metadata.aggregateId) ?? (await lane.entries.get(metadata.aggregateId));
      const span = startStep(`command-processor decide ${type}`, headers, { 'restaurant.command.type': type, 'restaurant.command.id': metadata.commandId, 'restaurant.aggregate.id': metadata.aggregateId });
      spans.push(span);
      const handled = handleCommand(runtime, current, { type, data }, metadata, clock());
      if (span.isRecording()) span.setAttributes({ 'restaurant.command.status': handled.reply.status, 'restaurant.command.duplicate': handled.duplicate, 'restaurant.events': handled.events.length });
      if (handled.entry !== undefined && !handled.duplicate) overlay.set(metadata.aggregateId, handled.entry);
      outcomes.push({ handled, aggregateId: metadata.aggregateId, trace: traceHeadersOf(span) });
    };
    for (const message of chunk) {
      let fullName: string;
      let value: { metadata: CommandMetadata } & Record<string, unknown>;
      try {
        const decoded = await codec.decode(message.value);
        fullName = decoded.fullName;
        value = decoded.value as typeof value;
        if (fullName === PARKING_REQUEST) {
          // An operator's redrive or skip (parking.ts): a redrive's commands are decided here, in order.
          for (const c of await decideRequest(codec, isCommand, decoded.value, parking)) await decideOne(c.fullName, c.value, c.headers);
          continue;
        }
        if (!isCommand(fullName)) {
          throw new DecodeError('unknown-record', `${fullName} is not a command of ${runtime.aggregate}`);
        }
      } catch (error) {
        if (!(error instanceof DecodeError)) throw error;
        deadLetters.push({ message, error });
        parkLetter(lane.parking, parking, topics.commands, lane.partition, message, error);
        logger.warn({ topic: topics.commands, partition: lane.partition, offset: message.offset, reason: error.reason, err: error }, 'command dead-lettered');
        continue;
      }
      const aggregateId = value.metadata.aggregateId;
      if (parking.parkedOf(aggregateId) !== undefined) {
        const version = (overlay.get(aggregateId) ?? (await lane.entries.get(aggregateId)))?.version ?? 0;
        const refused = refusal(lane.parking, parking, topics.commands, lane.partition, message, fullName, value, runtime.aggregate, version, clock());
        if (refused !== undefined) {
          // Its aggregate is parked: answered at once, never decided (the client may send it again once unparked).
          const span = startStep(`command-processor refuse ${refused.commandType}`, message.headers, { 'restaurant.command.id': refused.commandId, 'restaurant.aggregate.id': aggregateId });
          spans.push(span);
          outcomes.push({ handled: { duplicate: false, events: [], reply: refused, entry: undefined }, aggregateId, trace: traceHeadersOf(span) });
          continue;
        }
      }
      await decideOne(fullName, value, message.headers);
    }
    const eventMessages = await Promise.all(
      outcomes.flatMap(({ handled, aggregateId, trace }) =>
        handled.events.map(async (event) => ({
          key: eventKey(aggregateId, event.version),
          value: await codec.encode(topics.events, `${runtime.namespace}.${event.type}`, event.record),
          partition: lane.partition,
          headers: {
            'event-type': event.type,
            'event-id': event.record.metadata.eventId,
            'correlation-id': event.record.metadata.correlationId,
            ...trace,
          } satisfies IHeaders,
        })),
      ),
    );
    return { lane, chunk, outcomes, spans, overlay, deadLetters, eventMessages, parking };
  }

  private async decideInTransaction(chunks: ReadonlyMap<Lane, readonly KafkaMessage[]>): Promise<void> {
    const { logger } = this.context;
    const t0 = performance.now();
    const first = [...chunks.values()][0]?.[0];
    const waited = Date.now() - Number(first?.timestamp ?? Date.now());
    const decided: Decided[] = [];
    for (const [lane, chunk] of chunks) decided.push(await this.decide(lane, chunk));
    const tDecided = performance.now();

    const predicted = new Map<Lane, number>();
    for (const d of decided) if (d.lane.nextEventOffset !== undefined) predicted.set(d.lane, d.lane.nextEventOffset);
    const allPredicted = decided.every((d) => d.eventMessages.length === 0 || predicted.has(d.lane));
    let written: Written;
    try {
      try {
        written = await this.write(decided, allPredicted ? predicted : undefined);
      } catch (error) {
        for (const d of decided) d.lane.nextEventOffset = undefined;
        if (!(error instanceof OffsetGuessMissed)) throw error;
        logger.info({ topic: error.topic, partition: error.partition, guessed: error.guessed, actual: error.actual }, 'event offset guess missed; writing the events first');
        written = await this.write(decided, undefined);
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

  /**
   * One transaction for every lane's decisions. With every lane's event offset
   * predicted, everything goes in one produce request and the predictions are
   * checked against the broker's answer; otherwise the events are written first
   * to learn their offsets, which the replies carry.
   */
  private async write(decided: readonly Decided[], predicted: ReadonlyMap<Lane, number> | undefined): Promise<Written> {
    const { codec, groupId, repliesPartitions } = this.context;
    const marks: number[] = [performance.now()];
    const transaction = await this.producer.transaction();
    try {
      const bases = new Map<Lane, number>(predicted ?? []);
      const withEvents = decided.filter((d) => d.eventMessages.length > 0);
      if (predicted === undefined && withEvents.length > 0) {
        const sent = await sendPerPartition(transaction, withEvents.map((d) => ({ topic: d.lane.topics.events, messages: d.eventMessages })));
        for (const d of withEvents) {
          const events = sent.find((r) => r.topicName === d.lane.topics.events && r.partition === d.lane.partition);
          if (events?.baseOffset === undefined) throw new Error(`the broker did not report where the events of ${d.lane.topics.events} were written`);
          bases.set(d.lane, Number(events.baseOffset));
        }
      }
      marks.push(performance.now());

      const entriesByLane = new Map<Lane, Map<string, { entry: AggregateEntry; snapshot: Buffer | undefined }>>();
      const topicMessages: Array<{ topic: string; messages: Message[] }> = [];
      const replyMessages: Message[] = [];
      const checkpoints = new Map<Lane, { readonly key: string; readonly value: Buffer; readonly records: number }>();

      for (const d of decided) {
        const { lane } = d;
        const entries = new Map(d.overlay);
        let offset = bases.get(lane) ?? 0;
        // A duplicate of a command decided earlier in this same transaction gets that command's final reply.
        const finalReplies = new Map<string, CommandReply>();
        for (const { handled, aggregateId, trace } of d.outcomes) {
          let reply = handled.duplicate ? (finalReplies.get(handled.reply.commandId) ?? handled.reply) : handled.reply;
          if (!handled.duplicate && reply.status !== 'REJECTED') {
            reply = {
              ...reply,
              events: handled.events.map((event) => ({ eventType: event.type, aggregateId, version: event.version, topic: lane.topics.events, partition: lane.partition, offset: offset++ })),
            };
            finalReplies.set(reply.commandId, reply);
            const entry = entries.get(aggregateId);
            if (entry) entries.set(aggregateId, withReply(entry, reply));
          }
          replyMessages.push({ key: reply.commandId, value: await codec.encode(COMMAND_REPLIES_TOPIC, REPLY_RECORD, reply), partition: lane.partition % repliesPartitions, headers: { 'reply-status': reply.status, ...trace } });
        }
        if (predicted !== undefined && d.eventMessages.length > 0) topicMessages.push({ topic: lane.topics.events, messages: d.eventMessages });
        const snapshots: Message[] = [];
        const foldVersion = String(foldVersionOf(lane.runtime));
        const kept = new Map<string, { entry: AggregateEntry; snapshot: Buffer | undefined }>();
        entriesByLane.set(lane, kept);
        for (const [aggregateId, entry] of entries) {
          const domain = lane.runtime.toSnapshot(aggregateId, entry.version, entry.state);
          const snapshot = domain === null ? undefined : await codec.encode(lane.topics.snapshots, lane.runtime.snapshotRecord, { ...domain, recentCommands: entry.recentCommands });
          kept.set(aggregateId, { entry, snapshot });
          // Stamped with the fold that made it: a build with another fold never decides on it (docs/command-side.md "Fold versions").
          if (snapshot !== undefined) snapshots.push({ key: aggregateId, value: snapshot, partition: lane.partition, headers: { [FOLD_VERSION_HEADER]: foldVersion } });
        }
        const checkpoint: CommandCheckpoint = {
          groupId,
          commandTopic: lane.topics.commands,
          partition: lane.partition,
          nextOffset: Number((d.chunk[d.chunk.length - 1] as KafkaMessage).offset) + 1,
          committedAt: this.context.clock(),
        };
        const checkpointRecord = { key: checkpointKey(groupId), value: await codec.encode(lane.topics.snapshots, CHECKPOINT_RECORD, checkpoint) };
        checkpoints.set(lane, { ...checkpointRecord, records: snapshots.length + 1 });
        snapshots.push({ ...checkpointRecord, partition: lane.partition, headers: { [FOLD_VERSION_HEADER]: foldVersion } });
        topicMessages.push({ topic: lane.topics.snapshots, messages: snapshots });
        if (d.deadLetters.length > 0) topicMessages.push({ topic: dlqTopicName(lane.topics.commands), messages: d.deadLetters.map(({ message, error }) => this.deadLetter(lane, message, error)) });
        const parkingRecords = await parkedInputMessages(codec, lane.parking.ctx, d.parking);
        for (const { request, outcome } of d.parking.requests) parkingRecords.push(await actionMessage(codec, lane.parking.ctx, lane.parking.name, request, outcome));
        for (const topic of new Set(parkingRecords.map((r) => r.topic))) topicMessages.push({ topic, messages: parkingRecords.filter((r) => r.topic === topic).map((r) => r.message) });
      }
      if (replyMessages.length > 0) topicMessages.push({ topic: COMMAND_REPLIES_TOPIC, messages: replyMessages });
      // One request per partition (infra/kafka/transactions.ts): one sendBatch over several brokers can write records twice when one of them fails.
      const sent = await sendPerPartition(transaction, topicMessages);
      if (predicted !== undefined) {
        for (const d of withEvents) {
          const events = sent.find((r) => r.topicName === d.lane.topics.events && r.partition === d.lane.partition);
          const actual = Number(events?.baseOffset);
          const guessed = predicted.get(d.lane) as number;
          if (actual !== guessed) throw new OffsetGuessMissed(d.lane.topics.events, d.lane.partition, guessed, actual);
        }
      }
      const stored = new Map<Lane, { readonly checkpoint: { readonly key: string; readonly value: Buffer }; readonly offset: number }>();
      for (const [lane, { key, value, records }] of checkpoints) {
        const meta = sent.find((r) => r.topicName === lane.topics.snapshots && r.partition === lane.partition);
        const base = Number(meta?.baseOffset);
        // The store reflects the snapshot partition up to this transaction's commit marker, which follows its records at
        // base + records: the worker is the partition's only writer (fenced), so nothing else can land between them. A
        // restart after a clean stop then has nothing to read (no restore consumer at all), not just the marker.
        if (Number.isSafeInteger(base) && base >= 0) stored.set(lane, { checkpoint: { key, value }, offset: base + records + 1 });
      }
      marks.push(performance.now());
      await transaction.commit();
      marks.push(performance.now());
      const span = (i: number): number => Math.round((marks[i + 1] ?? 0) - (marks[i] ?? 0));
      return { bases, entries: entriesByLane, stored, timing: { eventsMs: span(0), restMs: span(1), commitMs: span(2) } };
    } catch (error) {
      await transaction.abort().catch(() => undefined);
      throw error;
    }
  }

  private deadLetter(lane: Lane, message: KafkaMessage, error: DecodeError): Message {
    return {
      key: message.key,
      value: message.value,
      partition: lane.partition,
      headers: {
        ...message.headers,
        'dlq-reason': error.reason,
        'dlq-error': error.message.slice(0, 1000),
        'dlq-topic': lane.topics.commands,
        'dlq-partition': String(lane.partition),
        'dlq-offset': message.offset,
        'dlq-consumer-group': this.context.groupId,
      },
    };
  }
}

interface Written {
  readonly bases: ReadonlyMap<Lane, number>;
  /** By lane: each aggregate's entry after the transaction, and the snapshot written for it. */
  readonly entries: ReadonlyMap<Lane, ReadonlyMap<string, { readonly entry: AggregateEntry; readonly snapshot: Buffer | undefined }>>;
  /** By lane: the checkpoint record written, and the snapshot offset after the transaction's snapshot records. */
  readonly stored: ReadonlyMap<Lane, { readonly checkpoint: { readonly key: string; readonly value: Buffer }; readonly offset: number }>;
  readonly timing: Readonly<Record<string, number>>;
}
