// Records whose content depends on other records' offsets (docs/stateful-runtime.md
// "Sequenced outputs"): a definition names `sequenced` topics, whose partition p
// task p alone writes (its events), and a decision's `after` is called with the
// offsets its emitted records there landed at, to make the records that carry
// them (replies). The task predicts those offsets (after a transaction that wrote
// n records from base b to a partition, the next lands at b + n + 1, past the
// commit marker), sends the whole transaction in one pass and checks each
// sequenced batch's base offset in the broker's answer; a wrong guess (another
// writer, an unknown previous outcome) aborts, and the round is written again
// with the sequenced records sent first to learn where they land. Without a
// prediction (the first round of a task, or after any failure) that is how it
// is written anyway. States completed with the offsets (`completeState`,
// complete-round.ts) are encoded into the changelog once the offsets are known.
import type { IHeaders, Message, RecordMetadata } from 'kafkajs';
import type { TaskProducer } from './task-group';
import { partitionFor } from '../../schemas/partitioning';
import type { TopicCatalog } from '../../schemas/topics';
import type { AvroCodec } from '../kafka/codec';
import { sendPerPartition } from '../kafka/transactions';
import type { TraceHeaders } from '../tracing/propagation';
import { completeRound } from './complete-round';
import type { Outgoing } from './definition';
import type { PositionWrite } from './position-store';
import type { ChangedState, Round } from './round';
import { addChangelogRecords, addOtherRecords, changelogOffsetsOf, chunks, noteChangelogOffsets, sendGroupOffsets, type Committed, type PartsCommitted, type PartWrite } from './transact';

export type { Late } from './complete-round';

/** The broker put a sequenced batch elsewhere than the task predicted; the transaction was aborted. */
export class OffsetGuessMissed extends Error {
  override readonly name = 'OffsetGuessMissed';
  constructor(
    readonly topic: string,
    readonly guessed: number,
    readonly actual: number,
  ) {
    super(`records of ${topic} were expected at offset ${guessed} but landed at ${actual}`);
  }
}

export interface SequencedContext {
  readonly codec: AvroCodec;
  readonly catalog: TopicCatalog;
  readonly physical: (topic: string) => string;
  /** Physical sequenced topics. */
  readonly sequenced: ReadonlySet<string>;
}

export interface SequencedCommitted<S = unknown> extends Committed {
  /** States completed with the offsets (`Decision.completeState`), as written: they replace the round's for the store. */
  readonly states: ReadonlyMap<string, ChangedState<S>>;
  /** Physical sequenced topic -> the offset its next record will land at (past this transaction's commit marker). */
  readonly next: ReadonlyMap<string, number>;
  /** The late records written, by type (for the counts). */
  readonly lateTypes: readonly string[];
  /** Whether the transaction was written in one pass on predicted offsets. */
  readonly guessed: boolean;
}

/** As SequencedCommitted, for a task of several parts: per part its changelog offset and completed states. */
export interface SequencedPartsCommitted<S = unknown> extends PartsCommitted, Omit<SequencedCommitted<S>, 'states' | 'changelogOffset'> {
  readonly states: ReadonlyArray<ReadonlyMap<string, ChangedState<S>>>;
}

/** Encodes a late record as the round encodes what a decision emits. */
export async function encodeOutgoing(ctx: Pick<SequencedContext, 'codec' | 'catalog' | 'physical'>, o: Outgoing, trace: TraceHeaders): Promise<{ readonly topic: string; readonly type: string; readonly message: Message }> {
  return {
    topic: ctx.physical(o.topic),
    type: o.type,
    message: {
      key: o.key,
      value: await ctx.codec.encode(o.topic, o.recordName, o.value),
      partition: partitionFor(o.partitionKey, ctx.catalog.topic(o.topic).partitions),
      headers: { ...o.headers, ...trace } satisfies IHeaders,
    },
  };
}

/** The one-part transaction with late records (a single-definition runtime's). */
export async function transactSequenced<S>(
  ctx: SequencedContext,
  producer: TaskProducer,
  where: { readonly groupId: string; readonly partition: number; readonly changelog: string },
  round: Round<S>,
  offsets: ReadonlyMap<string, number>,
  positions: PositionWrite,
  predicted: ReadonlyMap<string, number> | undefined,
): Promise<SequencedCommitted<S>> {
  const c = await transactSequencedParts(ctx, producer, where, [{ changelog: where.changelog, round, positions }], offsets, predicted);
  return { changelogOffset: c.changelogOffsets[0], next: c.next, states: c.states[0] ?? new Map(), lateTypes: c.lateTypes, guessed: c.guessed };
}

/**
 * The round's transaction with late records, for every part of the task:
 * `predicted` (physical sequenced topic -> next offset) sends everything in
 * one pass and checks; without a prediction for every sequenced topic
 * written, the sequenced records go first.
 */
export async function transactSequencedParts<S>(
  ctx: SequencedContext,
  producer: TaskProducer,
  where: { readonly groupId: string; readonly partition: number },
  writes: ReadonlyArray<PartWrite<S>>,
  offsets: ReadonlyMap<string, number>,
  predicted: ReadonlyMap<string, number> | undefined,
): Promise<SequencedPartsCommitted<S>> {
  const sequencedOut = new Map<string, Message[]>();
  const rest = new Map<string, Message[]>();
  const add = (byTopic: Map<string, Message[]>, topic: string, message: Message): void => {
    const list = byTopic.get(topic);
    if (list === undefined) byTopic.set(topic, [message]);
    else list.push(message);
  };
  // A sequenced record goes to the task's own partition: the round refused any other when it was decided (round.ts).
  for (const { round } of writes) for (const { topic, message } of round.emit) if (ctx.sequenced.has(topic)) add(sequencedOut, topic, message);
  const guessing = predicted !== undefined && [...sequencedOut.keys()].every((topic) => predicted.has(topic));
  const bases = new Map<string, number>();
  const transaction = await producer.transaction();
  const noted: Array<number | undefined> = writes.map(() => undefined);
  try {
    const expected = new Map<string, number>();
    if (guessing) for (const topic of sequencedOut.keys()) bases.set(topic, predicted.get(topic) as number);
    else {
      // Learn where they land: the sequenced records first, in their own requests.
      for (const chunk of chunks(sequencedOut)) {
        const sent = await sendPerPartition(transaction, [...chunk].map(([topic, messages]) => ({ topic, messages })));
        for (const [topic] of chunk) if (!bases.has(topic)) bases.set(topic, baseOf(sent, topic, where.partition));
      }
    }
    const indexOf = new Map<Message, number>();
    for (const list of sequencedOut.values()) list.forEach((m, i) => indexOf.set(m, i));
    const offsetOf = (physical: string, message: Message): number => (bases.get(physical) as number) + (indexOf.get(message) as number);
    // The offsets known: states completed with them, encoded, written first (the stores need their offsets); then the rest.
    const states: Array<Map<string, ChangedState<S>>> = [];
    const lateRecords: Array<ReturnType<typeof completeRound<S>>['records']> = [];
    for (const { round } of writes) {
      const completed = completeRound(round.late, where.partition, offsetOf, (id) => round.states.get(id)?.state);
      const mine = new Map<string, ChangedState<S>>();
      for (const [id, state] of completed.states) {
        const changed = round.states.get(id);
        const late = round.late.find((l) => l.processId === id);
        if (changed === undefined || late === undefined) continue; // a decision undone within its piece (a redrive's): nothing of it is written
        mine.set(id, { state, trace: changed.trace, record: { ...changed.record, value: await late.encodeState(state) } });
      }
      states.push(mine);
      lateRecords.push(completed.records);
    }
    addChangelogRecords(writes, (topic, message) => add(rest, topic, message), states);
    for (const { round } of writes) addOtherRecords(round, where.groupId, (topic, message) => add(rest, topic, message), (topic) => !ctx.sequenced.has(topic));
    const lateTypes: string[] = [];
    for (const records of lateRecords) {
      for (const { out, trace } of records) {
        const encoded = await encodeOutgoing(ctx, out, trace);
        add(rest, encoded.topic, encoded.message);
        lateTypes.push(encoded.type);
      }
    }
    const all = guessing ? new Map([...sequencedOut, ...rest]) : rest;
    for (const topic of sequencedOut.keys()) expected.set(topic, bases.get(topic) as number);
    for (const chunk of chunks(all)) {
      const sent = await sendPerPartition(transaction, [...chunk].map(([topic, messages]) => ({ topic, messages })));
      if (guessing) {
        for (const [topic, messages] of chunk) {
          const want = expected.get(topic);
          if (want === undefined) continue;
          const actual = baseOf(sent, topic, where.partition);
          if (actual !== want) throw new OffsetGuessMissed(topic, want, actual);
          expected.set(topic, want + messages.length);
        }
      }
      noteChangelogOffsets(writes, chunk, sent, where.partition, noted);
    }
    await sendGroupOffsets(transaction, where, writes, offsets);
    await transaction.commit();
    const next = new Map([...sequencedOut].map(([topic, messages]) => [topic, (bases.get(topic) as number) + messages.length + 1] as const));
    return { changelogOffsets: changelogOffsetsOf(writes, noted), next, states, lateTypes, guessed: guessing && sequencedOut.size > 0 };
  } catch (error) {
    await transaction.abort().catch(() => undefined);
    throw error;
  }
}

function baseOf(sent: readonly RecordMetadata[], topic: string, partition: number): number {
  const base = Number(sent.find((m) => m.topicName === topic && m.partition === partition)?.baseOffset);
  if (!Number.isSafeInteger(base) || base < 0) throw new Error(`the broker did not say where the records of ${topic}[${partition}] were written`);
  return base;
}
