// Deciding one lane's share of a transaction (docs/command-side.md
// "Deciding"): each command, in order, by the pure deciders (handle.ts) over
// the lane's aggregates as committed plus what this transaction decided so
// far; commands of a parked aggregate refused, operators' requests decided
// (parking.ts), undecodable commands dead-lettered; then the events encoded.
// Nothing here writes: partition-worker.ts writes what it returns.
import type { IHeaders, KafkaMessage, Message } from 'kafkajs';
import type { Span } from '@opentelemetry/api';
import type { CommandMetadata } from '../../schemas/generated/types';
import { eventKey } from '../../schemas/partitioning';
import { PARKING_REQUEST } from '../../schemas/loader';
import { DecodeError } from '../../infra/kafka/codec';
import { traceHeadersOf, type TraceHeaders } from '../../infra/tracing/propagation';
import { startStep } from '../../infra/tracing/spans';
import type { ParkingPart } from '../../infra/stateful/round-parking';
import { handleCommand, type AggregateEntry, type Handled } from './handle';
import type { Lane, WorkerContext } from './lane';
import { decideRequest, parkLetter, refusal } from './parking';

export interface Decided {
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

/** Decides a lane's chunk of commands, on top of nothing but the lane's committed state. */
export async function decideLane(context: WorkerContext, lane: Lane, chunk: readonly KafkaMessage[]): Promise<Decided> {
  const { codec, logger, clock, commandRecords } = context;
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

