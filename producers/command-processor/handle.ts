// Deciding one command against one aggregate's state: pure, no Kafka. The
// runtime (processor.ts) feeds commands in partition order, writes what this
// returns in one transaction, and only then keeps the new entry.
import type { CommandMetadata, CommandReply, EventMetadata } from '../../schemas/generated/types';
import { FORBIDDEN } from '../shared/authorization';
import type { CommandContext } from '../shared/decider';
import type { AggregateRuntime, Message } from './aggregates';
import { deterministicId } from '../../kernel/deterministic-id';

/** An aggregate as the processor holds it: state, version, and replies to its latest commands. */
export interface AggregateEntry {
  readonly version: number;
  readonly state: unknown;
  readonly recentCommands: readonly CommandReply[];
}

/** How many replies an aggregate remembers for duplicate detection. */
export const RECENT_COMMANDS = 64;

export interface PendingEvent {
  readonly type: string;
  readonly version: number;
  /** The Avro record: payload plus metadata envelope. */
  readonly record: Record<string, unknown> & { readonly metadata: EventMetadata };
}

export interface Handled {
  /** True when the commandId was already decided: `reply` is the first outcome and nothing is written. */
  readonly duplicate: boolean;
  readonly events: readonly PendingEvent[];
  /** Without event offsets yet (the runtime fills them in after writing the events). */
  readonly reply: CommandReply;
  /** The entry after the command; undefined when nothing about the aggregate should be persisted. */
  readonly entry: AggregateEntry | undefined;
}

export const VERSION_CONFLICT = 'version_conflict';

export function emptyEntry(runtime: AggregateRuntime): AggregateEntry {
  return { version: 0, state: runtime.initialState, recentCommands: [] };
}

function remember(entry: AggregateEntry, reply: CommandReply): readonly CommandReply[] {
  return [...entry.recentCommands, reply].slice(-RECENT_COMMANDS);
}

export function handleCommand(
  runtime: AggregateRuntime,
  current: AggregateEntry | undefined,
  command: Message,
  metadata: CommandMetadata,
  now: number,
): Handled {
  const entry = current ?? emptyEntry(runtime);
  const context: CommandContext = { aggregateId: metadata.aggregateId, actor: metadata.actor };
  // Authorized before anything else: before the duplicate lookup, so a commandId
  // reused by someone who may not act here gets `forbidden`, not the first
  // reply; and before the version check, as a version_conflict states the version.
  // (An owner, a role and an aggregate's customer never change, so a true repeat
  // passes again.)
  const refusal = runtime.authorize(command, entry.state, context);
  const previous = refusal === null ? entry.recentCommands.find((r) => r.commandId === metadata.commandId) : undefined;
  if (previous !== undefined) return { duplicate: true, events: [], reply: previous, entry: current };

  const base = {
    commandId: metadata.commandId,
    aggregateId: metadata.aggregateId,
    commandType: command.type,
    processedAt: now,
  };
  const rejected = (code: string, message: string): Handled => {
    if (code === FORBIDDEN) {
      // Says nothing about the aggregate (not even its version: 0 for all), and
      // nothing about it is persisted (no remembered reply, no snapshot), so refused
      // commands can neither probe an aggregate, nor push its owner's replies out of
      // its duplicate memory, nor make the processor write snapshots.
      const reply: CommandReply = { ...base, status: 'REJECTED', events: [], rejectionCode: code, rejectionMessage: message, aggregateVersion: 0 };
      return { duplicate: false, events: [], reply, entry: undefined };
    }
    const reply: CommandReply = { ...base, status: 'REJECTED', events: [], rejectionCode: code, rejectionMessage: message, aggregateVersion: entry.version };
    // Remembered only for an aggregate that exists: a rejection of a command for a
    // missing aggregate has no snapshot to live in, and repeating it changes nothing.
    return { duplicate: false, events: [], reply, entry: entry.version > 0 ? { ...entry, recentCommands: remember(entry, reply) } : current };
  };

  if (refusal !== null) return rejected(refusal.code, refusal.message);
  if (metadata.expectedVersion !== null && metadata.expectedVersion !== entry.version) {
    return rejected(VERSION_CONFLICT, `expected version ${metadata.expectedVersion}, but the aggregate is at version ${entry.version}`);
  }
  const decision = runtime.decide(command, entry.state, context);
  if (decision.outcome === 'rejected') return rejected(decision.rejection.code, decision.rejection.message);

  let state = entry.state;
  const events = decision.events.map((event, index): PendingEvent => {
    state = runtime.evolve(state, event);
    const version = entry.version + index + 1;
    const metadataOut: EventMetadata = {
      eventId: deterministicId(metadata.commandId, String(index)),
      aggregateId: metadata.aggregateId,
      version,
      occurredAt: now,
      commandId: metadata.commandId,
      correlationId: metadata.correlationId,
      causationId: metadata.commandId,
      // The audit trail: every event records who asked for the command that caused it.
      actor: metadata.actor,
    };
    return { type: event.type, version, record: { ...(event.data as Record<string, unknown>), metadata: metadataOut } };
  });
  const version = entry.version + events.length;
  const reply: CommandReply = { ...base, status: 'ACCEPTED', events: [], rejectionCode: null, rejectionMessage: null, aggregateVersion: version };
  // Remembered at once, its events' offsets not known yet (withReply puts the final reply in its place): the same
  // command again before the transaction is written (a client's retry that reached the topic twice, both in one
  // batch) is then a duplicate, not decided a second time.
  return { duplicate: false, events, reply, entry: { version, state, recentCommands: remember(entry, reply) } };
}

/** The entry with the final reply (event offsets filled in) remembered, in place of the one remembered when it was decided. */
export function withReply<E extends AggregateEntry>(entry: E, reply: CommandReply): E {
  const others = entry.recentCommands.filter((r) => r.commandId !== reply.commandId);
  return { ...entry, recentCommands: [...others, reply].slice(-RECENT_COMMANDS) };
}
