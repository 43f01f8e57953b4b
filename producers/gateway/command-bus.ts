// The seam between the HTTP gateway and Kafka. The gateway validates and
// enriches a request into a command envelope and hands it to a CommandBus; the
// Kafka implementation (producers/command-bus/) produces it to
// restaurant.<aggregate>.commands and waits for the processor's reply.
import type { CommandMetadata, EventPosition, Money } from '../../schemas/generated/types';
import type { DomainCommand } from '../../schemas/messages';
import type { AggregateName } from '../../schemas/topics';

/** Aggregates that take commands (payment is an external system and loyalty only publishes events: no command topic of ours). */
export type CommandAggregate = Exclude<AggregateName, 'payment' | 'loyalty'>;

export interface CommandEnvelope {
  readonly aggregate: CommandAggregate;
  readonly command: DomainCommand;
  readonly metadata: CommandMetadata;
  /** The trace context of the request that asked (`traceparent`), carried in the command's Kafka headers (docs/tracing.md). */
  readonly trace?: Readonly<Record<string, string>>;
}

export type CommandOutcome =
  | {
      readonly status: 'accepted';
      readonly commandId: string;
      readonly commandType: string;
      readonly aggregateId: string;
      readonly aggregateVersion: number;
      /** Where each resulting event was written; empty for an accepted no-op. */
      readonly events: readonly EventPosition[];
    }
  | {
      readonly status: 'rejected';
      readonly commandId: string;
      readonly commandType: string;
      readonly aggregateId: string;
      readonly aggregateVersion: number;
      /** A decider rejection code (e.g. `order_not_found`) or `version_conflict` for If-Match. */
      readonly code: string;
      readonly message: string;
    }
  | {
      /** Produced, but no reply within the wait; poll GET /commands/:id. */
      readonly status: 'pending';
      readonly commandId: string;
      readonly commandType: string;
      readonly aggregateId: string;
    };

/** Kafka could not be reached or refused the write: nothing was accepted, the client may retry (HTTP 503). */
export class CommandBusUnavailable extends Error {
  override readonly name = 'CommandBusUnavailable';
  readonly retriable = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Thrown errors that mean "infrastructure, try again" (HTTP 503): the bus's own, or any marked retriable (e.g. the menu read model). */
export function isRetriable(error: unknown): boolean {
  return error instanceof CommandBusUnavailable || (error instanceof Error && (error as { retriable?: unknown }).retriable === true);
}

export interface CommandBus {
  /**
   * Writes the command and waits (at most waitMs) for its outcome. Resolves
   * `pending` when the wait runs out; throws CommandBusUnavailable when the
   * command could not be written at all.
   */
  send(envelope: CommandEnvelope, options: { readonly waitMs: number }): Promise<CommandOutcome>;
  /** The outcome of an earlier command, if this gateway has seen its reply; undefined when unknown or expired. */
  outcome(commandId: string): Promise<CommandOutcome | undefined>;
}

/** What the gateway needs to know about a menu item to put it on an order at today's price. */
export interface MenuItemQuote {
  readonly menuItemId: string;
  readonly name: string;
  readonly price: Money;
  readonly available: boolean;
}

export interface MenuCatalog {
  /** The item as the menu has it now; undefined when it does not exist or was removed. */
  quote(menuItemId: string): Promise<MenuItemQuote | undefined>;
}
