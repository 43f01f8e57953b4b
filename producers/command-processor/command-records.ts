// The records the command processor writes, as pure functions of what it
// decided: an aggregate's snapshot record (its domain snapshot plus its
// duplicate memory), the entry read back from one, a reply completed with
// where its events landed, and the rejection of a command whose aggregate is
// parked. Written and read by the command definition (command-definition.ts);
// the same records as builds before the runtime wrote, so their snapshots are
// read as they are.
import type { CommandMetadata, CommandReply } from '../../schemas/generated/types';
import type { ParkedProcess } from '../../infra/stateful/parking';
import type { AggregateRuntime } from './aggregates';
import type { AggregateEntry, PendingEvent } from './handle';

export const REPLY_RECORD = 'restaurant.common.CommandReply';

/** The rejection code of a command refused because its aggregate is parked (the gateway answers 409). */
export const AGGREGATE_PARKED = 'aggregate_parked';

/** The snapshot record of an aggregate (`<namespace>.<Aggregate>Snapshot`): its domain snapshot and its last replies; null when there is nothing to persist. */
export function snapshotValue(runtime: AggregateRuntime, aggregateId: string, entry: AggregateEntry): Record<string, unknown> | null {
  const domain = runtime.toSnapshot(aggregateId, entry.version, entry.state);
  return domain === null ? null : { ...domain, recentCommands: entry.recentCommands };
}

/** The entry a decoded snapshot record holds. */
export function entryOfSnapshot(runtime: AggregateRuntime, snapshot: unknown): AggregateEntry {
  const restored = runtime.fromSnapshot(snapshot);
  return { version: restored.version, state: restored.state, recentCommands: (snapshot as { recentCommands?: CommandReply[] }).recentCommands ?? [] };
}

/** A reply with its events named where they landed: `offsets[i]` is the offset of `events[i]` in `topic`'s `partition`. */
export function replyWithEvents(reply: CommandReply, events: readonly PendingEvent[], aggregateId: string, topic: string, partition: number, offsets: readonly number[]): CommandReply {
  return {
    ...reply,
    events: events.map((event, i) => ({ eventType: event.type, aggregateId, version: event.version, topic, partition, offset: offsets[i] ?? -1 })),
  };
}

/** The reply to a command whose aggregate is parked: REJECTED, `aggregate_parked`, naming the command it is parked behind; never decided. */
export function parkedReply(metadata: CommandMetadata, fullName: string, aggregate: string, version: number, summary: ParkedProcess | undefined, now: number): CommandReply {
  return {
    commandId: metadata.commandId,
    aggregateId: metadata.aggregateId,
    commandType: fullName.slice(fullName.lastIndexOf('.') + 1),
    status: 'REJECTED',
    events: [],
    rejectionCode: AGGREGATE_PARKED,
    rejectionMessage: `${aggregate} ${metadata.aggregateId} is parked behind a command that could not be decoded (${summary?.head ?? 'unknown'}: ${summary?.reason ?? ''}); it takes no commands until an operator redrives or skips that one, then send this one again`,
    aggregateVersion: version,
    processedAt: now,
  };
}
