// Writing a worker's transaction (docs/command-side.md "Writing"): the
// events, one snapshot per touched aggregate, each lane's checkpoint, a reply
// per command, dead letters and parking records, committed together. With
// every lane's event offset predicted it is one produce request; the broker's
// answer is checked, and a wrong guess aborts (OffsetGuessMissed).
import { performance } from 'node:perf_hooks';
import type { KafkaMessage, Message, Producer } from 'kafkajs';
import type { CommandCheckpoint, CommandReply } from '../../schemas/generated/types';
import { COMMAND_REPLIES_TOPIC, dlqTopicName } from '../../schemas/topics';
import type { DecodeError } from '../../infra/kafka/codec';
import { sendPerPartition } from '../../infra/kafka/transactions';
import { deadLetterHeaders } from '../../infra/consuming/dead-letters';
import { FOLD_VERSION_HEADER } from '../../infra/state/changelog-restore';
import { actionMessage, parkedInputMessages } from '../../infra/stateful/round-parking';
import { CHECKPOINT_RECORD, checkpointKey, foldVersionOf } from './aggregate-store';
import type { Decided } from './decide-lane';
import { withReply, type AggregateEntry } from './handle';
import type { Lane, WorkerContext } from './lane';
import { REPLY_RECORD, replyWithEvents, snapshotValue } from './command-records';
import { replyPartition } from './reply-route';

/** The broker put a lane's events elsewhere than the worker expected; the transaction was aborted. */
export class OffsetGuessMissed extends Error {
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

export interface Written {
  readonly bases: ReadonlyMap<Lane, number>;
  /** By lane: each aggregate's entry after the transaction, and the snapshot written for it. */
  readonly entries: ReadonlyMap<Lane, ReadonlyMap<string, { readonly entry: AggregateEntry; readonly snapshot: Buffer | undefined }>>;
  /** By lane: the checkpoint record written, and the snapshot offset after the transaction's snapshot records. */
  readonly stored: ReadonlyMap<Lane, { readonly checkpoint: { readonly key: string; readonly value: Buffer }; readonly offset: number }>;
  readonly timing: Readonly<Record<string, number>>;
}

/**
 * One transaction for every lane's decisions. With every lane's event offset
 * predicted, everything goes in one produce request and the predictions are
 * checked against the broker's answer; otherwise the events are written first
 * to learn their offsets, which the replies carry.
 */
export async function writeRound(producer: Producer, context: WorkerContext, decided: readonly Decided[], predicted: ReadonlyMap<Lane, number> | undefined): Promise<Written> {
  const { codec, groupId, repliesPartitions } = context;
  const marks: number[] = [performance.now()];
  const transaction = await producer.transaction();
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
          reply = replyWithEvents(reply, handled.events, aggregateId, lane.topics.events, lane.partition, handled.events.map(() => offset++));
          finalReplies.set(reply.commandId, reply);
          const entry = entries.get(aggregateId);
          if (entry) entries.set(aggregateId, withReply(entry, reply));
        }
        replyMessages.push({ key: reply.commandId, value: await codec.encode(COMMAND_REPLIES_TOPIC, REPLY_RECORD, reply), partition: replyPartition(lane.partition, repliesPartitions), headers: { 'reply-status': reply.status, ...trace } });
      }
      if (predicted !== undefined && d.eventMessages.length > 0) topicMessages.push({ topic: lane.topics.events, messages: d.eventMessages });
      const snapshots: Message[] = [];
      const foldVersion = String(foldVersionOf(lane.runtime));
      const kept = new Map<string, { entry: AggregateEntry; snapshot: Buffer | undefined }>();
      entriesByLane.set(lane, kept);
      for (const [aggregateId, entry] of entries) {
        const value = snapshotValue(lane.runtime, aggregateId, entry);
        const snapshot = value === null ? undefined : await codec.encode(lane.topics.snapshots, lane.runtime.snapshotRecord, value);
        kept.set(aggregateId, { entry, snapshot });
        // Stamped with the fold that made it: a build with another fold never decides on it (docs/command-side.md "Fold versions").
        if (snapshot !== undefined) snapshots.push({ key: aggregateId, value: snapshot, partition: lane.partition, headers: { [FOLD_VERSION_HEADER]: foldVersion } });
      }
      const checkpoint: CommandCheckpoint = {
        groupId,
        commandTopic: lane.topics.commands,
        partition: lane.partition,
        nextOffset: Number((d.chunk[d.chunk.length - 1] as KafkaMessage).offset) + 1,
        committedAt: context.clock(),
      };
      const checkpointRecord = { key: checkpointKey(groupId), value: await codec.encode(lane.topics.snapshots, CHECKPOINT_RECORD, checkpoint) };
      checkpoints.set(lane, { ...checkpointRecord, records: snapshots.length + 1 });
      snapshots.push({ ...checkpointRecord, partition: lane.partition, headers: { [FOLD_VERSION_HEADER]: foldVersion } });
      topicMessages.push({ topic: lane.topics.snapshots, messages: snapshots });
      if (d.deadLetters.length > 0) topicMessages.push({ topic: dlqTopicName(lane.topics.commands), messages: d.deadLetters.map(({ message, error }) => deadLetter(context, lane, message, error)) });
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


/** A dead letter of an undecodable command: its original bytes and headers, and why (infra/consuming/dead-letters.ts). */
function deadLetter(context: WorkerContext, lane: Lane, message: KafkaMessage, error: DecodeError): Message {
  const letter = { topic: lane.topics.commands, partition: lane.partition, offset: Number(message.offset), key: message.key, value: message.value, headers: message.headers, reason: error.reason, error: error.message };
  return { key: message.key, value: message.value, partition: lane.partition, headers: deadLetterHeaders(letter, context.groupId) };
}
