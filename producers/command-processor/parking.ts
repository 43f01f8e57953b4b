// Parking by aggregate in the command processor (docs/command-side.md "Parked
// aggregates"). Once a command of an aggregate is dead-lettered (it cannot be
// decoded; its key still names the aggregate), the aggregate is parked: its
// later commands are not decided but answered at once, REJECTED with
// `aggregate_parked` (the gateway's 409), while every other aggregate flows.
//
// The records, their keys and the request/outcome logic are the stateful
// runtime's (infra/stateful/parking.ts, round-parking.ts): a `ParkedInput` per
// parked command on `<commands topic>.parked` (compacted, co-partitioned with
// the commands, keyed `<aggregateId>@<topic>:<partition>:<offset>`), written in
// the worker's transaction with the dead letter and the checkpoint, and read
// whole on assignment. Operators' `ParkingRequest`s (`npm run dlq`, the admin
// API) arrive on the commands topic itself, keyed `request/<id>` on the
// aggregate's partition, so they are decided in order with the commands, in
// the same transaction as their checkpoint: exactly once. The outcome is
// recorded on restaurant.dead-letter-actions (actionId = request id).
import type { Kafka, KafkaMessage } from 'kafkajs';
import type { CommandMetadata, CommandReply } from '../../schemas/generated/types';
import { DEAD_LETTER_ACTIONS_TOPIC, parkedCommandsTopicName, type TopicCatalog } from '../../schemas/topics';
import { DecodeError, RegistryError, type AvroCodec } from '../../infra/kafka/codec';
import { parkedAt, readParked } from '../../infra/stateful/parked-read';
import type { DecodedRecord } from '../../infra/consuming/batch-sink';
import { positionOf, REQUEST_KEY_PREFIX, requestFromRecord, summaryOf, type ParkedInput, type ParkingOutcome, type ParkingRequest, type ParkingSpec } from '../../infra/stateful/parking';
import { parkBatch, skip, type ParkingContext, type ParkingPart } from '../../infra/stateful/round-parking';
import { parkedReply } from './command-records';

export { AGGREGATE_PARKED } from './command-records';

/** The aggregate a command's Kafka key names (commands are keyed by aggregate id); a request (`request/<id>`) names none. */
export const aggregateOfKey = (key: string): string | undefined => (key === '' || key.startsWith(REQUEST_KEY_PREFIX) ? undefined : key);

const SPEC: ParkingSpec = {
  processIdOfKey: aggregateOfKey,
  // Refused commands are answered by the worker (it writes the replies); nothing else to emit.
  refuseBehind: () => [],
};

export function commandParkingContext(catalog: TopicCatalog, commandsTopic: string, groupId: string, clock: () => number): ParkingContext {
  const parked = catalog.topic(parkedCommandsTopicName(commandsTopic));
  const actions = catalog.topic(DEAD_LETTER_ACTIONS_TOPIC);
  return {
    spec: SPEC,
    logical: parked.name,
    physical: parked.name,
    partitions: parked.partitions,
    actions: { logical: actions.name, physical: actions.name, partitions: actions.partitions },
    groupId,
    clock,
  };
}

/** One lane's parked aggregates (committed), and the pieces each transaction adds on top. */
export class LaneParking {
  /** By aggregate id: its parked commands, the head first. */
  readonly parked = new Map<string, readonly ParkedInput[]>();

  constructor(
    readonly name: string,
    readonly ctx: ParkingContext,
  ) {}

  /** A transaction's piece: its changes over the committed parked state. */
  part(): ParkingPart {
    const changes = new Map<string, readonly ParkedInput[] | null>();
    return {
      parkedOf: (id) => {
        const own = changes.get(id);
        return own === null ? undefined : (own ?? this.parked.get(id));
      },
      parked: changes,
      park: [],
      unpark: [],
      requests: [],
      answers: [],
    };
  }

  /** Takes a committed piece's changes. */
  commit(part: ParkingPart): void {
    for (const [id, list] of part.parked) {
      if (list === null || list.length === 0) this.parked.delete(id);
      else this.parked.set(id, list);
    }
  }

  get inputs(): number {
    let n = 0;
    for (const list of this.parked.values()) n += list.length;
    return n;
  }
}

/** Reads the lanes' partitions of their parked topics whole (read-committed) into them: parked state survives a restart. */
export async function restoreParked(kafka: Kafka, codec: AvroCodec, lanes: ReadonlyArray<{ readonly partition: number; readonly parking: LaneParking }>): Promise<void> {
  const byTopic = new Map<string, number[]>();
  for (const { partition, parking } of lanes) byTopic.set(parking.ctx.physical, [...(byTopic.get(parking.ctx.physical) ?? []), partition]);
  const read = await readParked(kafka, codec, [...byTopic].map(([topic, partitions]) => ({ topic, partitions })));
  for (const { partition, parking } of lanes) {
    parking.parked.clear();
    for (const [id, list] of read.get(parkedAt(parking.ctx.physical, partition)) ?? []) parking.parked.set(id, list);
  }
}

const recordOf = (topic: string, partition: number, message: KafkaMessage, fullName: string, value: unknown): DecodedRecord => ({
  topic,
  partition,
  offset: Number(message.offset),
  key: message.key,
  rawValue: message.value,
  headers: message.headers,
  type: fullName.slice(fullName.lastIndexOf('.') + 1),
  fullName,
  value,
});

/** Parks the aggregate a dead-lettered command's key names (nothing for a key that names none). */
export function parkLetter(parking: LaneParking, part: ParkingPart, topic: string, partition: number, message: KafkaMessage, error: DecodeError): void {
  parkBatch(parking.ctx, [], [{ topic, partition, offset: Number(message.offset), key: message.key, value: message.value, headers: message.headers, reason: error.reason, error: error.message }], part);
}

/** The rejection a command of a parked aggregate gets, or undefined when it is to be decided. */
export function refusal(parking: LaneParking, part: ParkingPart, topic: string, partition: number, message: KafkaMessage, fullName: string, value: { readonly metadata: CommandMetadata }, aggregate: string, version: number, now: number): CommandReply | undefined {
  const list = part.parkedOf(value.metadata.aggregateId);
  if (list === undefined) return undefined;
  if (parkBatch(parking.ctx, [recordOf(topic, partition, message, fullName, value)], [], part).length > 0) return undefined;
  return parkedReply(value.metadata, fullName, aggregate, version, summaryOf(list), now);
}

/** A command to decide, decoded again by a redrive. */
export interface RedrivenCommand {
  readonly fullName: string;
  readonly value: { readonly metadata: CommandMetadata } & Record<string, unknown>;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Decides an operator's request (a decoded ParkingRequest) on top of the piece:
 * a skip drops a parked command (default the head); a redrive decodes the
 * aggregate's parked commands again with the current decoder and, when all of
 * them decode as commands of this aggregate type, unparks it and returns them
 * to be decided, in order, in this transaction. If one still fails nothing is
 * kept (`failed`) and the aggregate stays parked. The outcome is recorded in
 * the piece (written as a DeadLetterAction with the transaction).
 */
export async function decideRequest(codec: AvroCodec, isCommand: (fullName: string) => boolean, value: unknown, part: ParkingPart): Promise<readonly RedrivenCommand[]> {
  let request: ParkingRequest;
  try {
    request = requestFromRecord(value);
  } catch {
    return []; // not a request this build understands: nothing to do, nothing recorded
  }
  if (request.action === 'skip') {
    part.requests.push({ request, outcome: skip(request, part) });
    return [];
  }
  const list = part.parkedOf(request.processId);
  if (list === undefined || list.length === 0) {
    part.requests.push({ request, outcome: { outcome: 'not-parked', events: [], applied: 0 } });
    return [];
  }
  const events = list.map(positionOf);
  const commands: RedrivenCommand[] = [];
  let outcome: ParkingOutcome;
  try {
    for (const p of list) {
      const decoded = await codec.decode(p.value);
      if (!isCommand(decoded.fullName)) throw new DecodeError('unknown-record', `${decoded.fullName} is not a command here`);
      commands.push({ fullName: decoded.fullName, value: decoded.value as RedrivenCommand['value'], headers: p.headers });
    }
    part.parked.set(request.processId, null);
    part.unpark.push(...list);
    outcome = { outcome: 'redriven', events, applied: commands.length };
  } catch (error) {
    // The registry unreachable is nobody's fault: the transaction is tried again.
    if (error instanceof RegistryError && error.retriable) throw error;
    commands.length = 0;
    outcome = { outcome: 'failed', events, applied: 0, error: error instanceof Error ? error.message : String(error) };
  }
  part.requests.push({ request, outcome });
  return commands;
}
