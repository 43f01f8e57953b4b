// What a stateful definition's decision emits (definition.ts): each message
// complete (topic, key, partitioning key, record, id, headers), so the runtime
// only encodes and produces it; and an event as the command processor writes
// events.
import type { EventMetadata } from '../../schemas/generated/types';
import { eventKey } from '../../schemas/partitioning';

/** A message a decision emits, complete: the runtime encodes it with the catalog topic's subject and produces it. */
export interface Outgoing {
  /** The catalog topic it goes to (a runtime on topics of its own, in tests and benches, maps it). */
  readonly topic: string;
  readonly key: string;
  /** What the partition is computed from (the aggregate id), with the same murmur2 as every writer. */
  readonly partitionKey: string;
  /** Avro full name of the record. */
  readonly recordName: string;
  readonly value: unknown;
  /** The message's deterministic id (eventId or commandId). */
  readonly id: string;
  /** Short type name, for headers and counts. */
  readonly type: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** An event for an `<aggregate>.events` topic, keyed and headed as the command processor writes events. */
export function eventMessage(topic: string, namespace: string, type: string, data: object, metadata: EventMetadata): Outgoing {
  return {
    topic,
    key: eventKey(metadata.aggregateId, metadata.version),
    partitionKey: metadata.aggregateId,
    recordName: `${namespace}.${type}`,
    value: { ...data, metadata },
    id: metadata.eventId,
    type,
    headers: { 'event-type': type, 'event-id': metadata.eventId, 'correlation-id': metadata.correlationId },
  };
}
