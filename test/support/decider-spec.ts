// given(events).when(command).then(events) / .thenRejects(code) for deciders.
// `.as(actor)` sets who asks (default: null, a command written before actors
// were recorded) and `.on(aggregateId)` the id the command is addressed to.
import type { CommandContext, Decider, Decision } from '../../producers/shared/decider';
import { evolveAll } from '../../producers/shared/decider';
import type { Actor } from '../../schemas/generated/types';

export interface Then<Event, Code extends string> {
  /** The command is accepted and produces exactly these events (payloads, no metadata). */
  then(expected: readonly Event[]): void;
  /** The command is accepted as a repeat: no events. */
  thenNothing(): void;
  /** The command is rejected with this code and some human message. */
  thenRejects(code: Code): void;
  /** The rejection's message (fails when the command is accepted). */
  rejectionMessage(): string;
  /** The decision itself, for assertions the others do not express. */
  readonly decision: Decision<Event, Code>;
}

export interface Given<Command, Event, Code extends string> {
  /** The command is asked for by this actor. */
  as(actor: Actor | null): Given<Command, Event, Code>;
  /** The command is addressed to this aggregate id. */
  on(aggregateId: string): Given<Command, Event, Code>;
  when(command: Command): Then<Event, Code>;
}

/** The actor of a command: `subject` holding `roles`. */
export const actor = (subject: string, ...roles: string[]): Actor => ({ subject, roles });

export function deciderSpec<Command, Event, State, Code extends string, Context extends CommandContext>(
  decider: Decider<Command, Event, State, Code, Context>,
  settings: Omit<Context, keyof CommandContext>,
  defaultAggregateId = 'aggregate-1',
): { given(events: readonly Event[]): Given<Command, Event, Code> } {
  const givenWith = (history: readonly Event[], commandContext: CommandContext): Given<Command, Event, Code> => ({
    as: (who) => givenWith(history, { ...commandContext, actor: who }),
    on: (aggregateId) => givenWith(history, { ...commandContext, aggregateId }),
    when(command) {
      const state = evolveAll(decider.evolve, decider.initialState, history);
      const decision = decider.decide(command, state, { ...settings, ...commandContext } as Context);
      const then = (expected: readonly Event[]): void => {
        expect(decision).toEqual({ outcome: 'accepted', events: expected });
        // The new events must also fold into the state without surprises.
        evolveAll(decider.evolve, state, expected);
      };
      return {
        decision,
        then,
        thenNothing: () => then([]),
        thenRejects(code) {
          expect(decision).toMatchObject({ outcome: 'rejected', rejection: { code } });
          if (decision.outcome === 'rejected') expect(decision.rejection.message).toMatch(/\S/);
        },
        rejectionMessage() {
          if (decision.outcome !== 'rejected') throw new Error(`expected a rejection, got ${JSON.stringify(decision)}`);
          return decision.rejection.message;
        },
      };
    },
  });
  return { given: (history) => givenWith(history, { aggregateId: defaultAggregateId, actor: null }) };
}
