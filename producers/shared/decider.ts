// The shape every aggregate decider has: pure functions over discriminated
// unions. `decide` turns a command and the current state into events (payloads
// only; the command processor adds the metadata envelope) or a domain
// rejection; `evolve` folds one event into the state. `decide` also gets the
// command's context: which aggregate it is addressed to and who asks (the actor
// from the command's metadata), so each decider can authorize the command
// against the state it owns (see producers/shared/authorization.ts).
import type { Actor } from '../../schemas/generated/types';

export interface Rejection<Code extends string> {
  /** Stable, machine-readable snake_case reason, e.g. `order_not_found`. */
  readonly code: Code;
  /** Explanation for people. */
  readonly message: string;
}

/** A rejected decision. */
export interface Refusal<Code extends string> {
  readonly outcome: 'rejected';
  readonly rejection: Rejection<Code>;
}

export type Decision<Event, Code extends string> = { readonly outcome: 'accepted'; readonly events: readonly Event[] } | Refusal<Code>;

/** What the command processor knows of a command besides its payload. */
export interface CommandContext {
  /** The aggregate the command is addressed to (its key): a decider's state may not hold it (a customer that does not exist yet). */
  readonly aggregateId: string;
  /** Who asks: the command metadata's actor; null for a command written before actors were recorded. */
  readonly actor: Actor | null;
}

export interface Decider<Command, Event, State, Code extends string, Context extends CommandContext = CommandContext> {
  readonly initialState: State;
  decide(command: Command, state: State, context: Context): Decision<Event, Code>;
  evolve(state: State, event: Event): State;
}

/** Accept the command; no events means "accepted, nothing changed" (an idempotent repeat). */
export function accept<Event>(...events: Event[]): Decision<Event, never> {
  return { outcome: 'accepted', events };
}

export function reject<Code extends string>(code: Code, message: string): Refusal<Code> {
  return { outcome: 'rejected', rejection: { code, message } };
}

/** Folds events into a state (rehydration, tests). */
export function evolveAll<Event, State>(evolve: (state: State, event: Event) => State, state: State, events: readonly Event[]): State {
  return events.reduce(evolve, state);
}

/** Raised when a snapshot cannot be turned back into state (e.g. an enum value this build does not know). */
export class SnapshotError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SnapshotError';
  }
}

/**
 * A snapshot record as a decider sees it: the aggregate's state and version. The
 * command processor adds `recentCommands` (its duplicate-command memory), which
 * is not domain state.
 */
export type StateSnapshot<S> = Omit<S, 'recentCommands'>;
