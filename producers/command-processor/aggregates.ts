// The four command-taking aggregates, each a decider plus its snapshot mapping,
// behind one type-erased shape the processor runtime can drive. The casts live
// here, once: a command reaches `decide` only after Avro decoding by the record
// name that is its `type`, so its data has that record's shape.
import * as customer from '../customer/customer.decider';
import * as email from '../email/email-reservation.decider';
import * as menu from '../menu/menu-item.decider';
import * as order from '../order/order.decider';
import type { CommandContext, Decision, Refusal, Rejection } from '../shared/decider';
import { AGGREGATE_NAMESPACES } from '../../schemas/topics';
import type { CommandAggregate } from '../gateway/command-bus';

export interface Message {
  readonly type: string;
  readonly data: object;
}

export interface DecidedState {
  readonly aggregateId: string;
  readonly version: number;
  readonly state: unknown;
}

export interface AggregateRuntime {
  readonly aggregate: CommandAggregate;
  /** Avro namespace of the aggregate's records, e.g. `restaurant.order`. */
  readonly namespace: string;
  /** Full name of its snapshot record. */
  readonly snapshotRecord: string;
  /**
   * The version of the fold (`evolve` and the snapshot mapping) that made its
   * snapshots; default 1. Raise it whenever a change to the fold changes what a
   * stored snapshot means: snapshots of another version are never decided on
   * (docs/command-side.md "Fold versions").
   */
  readonly foldVersion?: number;
  readonly initialState: unknown;
  /** The decider's authorization alone (decide checks it too): null when the actor may issue the command. */
  authorize(command: Message, state: unknown, context: CommandContext): Rejection<string> | null;
  decide(command: Message, state: unknown, context: CommandContext): Decision<Message, string>;
  evolve(state: unknown, event: Message): unknown;
  /** The snapshot's domain part, or null when there is nothing to persist (the aggregate does not exist). */
  toSnapshot(aggregateId: string, version: number, state: unknown): object | null;
  fromSnapshot(snapshot: unknown): DecidedState;
}

/** Each aggregate's fold version: raise one when its evolve or snapshot mapping changes what a stored snapshot means. */
export const FOLD_VERSIONS: Readonly<Record<CommandAggregate, number>> = { customer: 1, menu: 1, order: 1, 'email-reservation': 1 };

interface Module<C, E, S, Snap> {
  readonly initialState: S;
  authorize(command: C, state: S, context: CommandContext): Refusal<string> | null;
  decide(command: C, state: S, context: never): Decision<E, string>;
  evolve(state: S, event: E): S;
  toSnapshot(id: string, version: number, state: S): Snap | null;
  fromSnapshot(snapshot: Snap): DecidedState;
}

function erase<C, E, S, Snap>(
  aggregate: CommandAggregate,
  snapshotName: string,
  m: Module<C, E, S, Snap>,
  settings: object = {},
): AggregateRuntime {
  const namespace = AGGREGATE_NAMESPACES[aggregate];
  return {
    aggregate,
    namespace,
    snapshotRecord: `${namespace}.${snapshotName}`,
    foldVersion: FOLD_VERSIONS[aggregate],
    initialState: m.initialState,
    authorize: (command, state, context) => m.authorize(command as C, state as S, context)?.rejection ?? null,
    // The decider's context: the command's (aggregate id, actor) plus the aggregate's settings.
    decide: (command, state, context) => m.decide(command as C, state as S, { ...settings, ...context } as never) as Decision<Message, string>,
    evolve: (state, event) => m.evolve(state as S, event as E),
    toSnapshot: (id, version, state) => m.toSnapshot(id, version, state as S) as object | null,
    fromSnapshot: (snapshot) => m.fromSnapshot(snapshot as Snap),
  };
}

/** Settings the deciders need from configuration. */
export interface ProcessorContext {
  readonly order: order.OrderSettings;
}

export function aggregateRuntimes(context: ProcessorContext): Readonly<Record<CommandAggregate, AggregateRuntime>> {
  return {
    customer: erase('customer', 'CustomerSnapshot', customer),
    menu: erase('menu', 'MenuItemSnapshot', menu),
    order: erase('order', 'OrderSnapshot', order, context.order),
    'email-reservation': erase('email-reservation', 'EmailReservationSnapshot', email),
  };
}
