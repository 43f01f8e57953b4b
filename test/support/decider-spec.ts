// given(events).when(command).then(events) / .thenRejects(code) for deciders.
import { evolveAll, type Decider } from '../../producers/shared/decider';

export interface Then<Event, Code extends string> {
  /** The command is accepted and produces exactly these events (payloads, no metadata). */
  then(expected: readonly Event[]): void;
  /** The command is accepted as a repeat: no events. */
  thenNothing(): void;
  /** The command is rejected with this code and some human message. */
  thenRejects(code: Code): void;
}

export interface Given<Command, Event, Code extends string> {
  when(command: Command): Then<Event, Code>;
}

export function deciderSpec<Command, Event, State, Code extends string, Context>(
  decider: Decider<Command, Event, State, Code, Context>,
  context: Context,
): { given(events: readonly Event[]): Given<Command, Event, Code> } {
  return {
    given(history) {
      return {
        when(command) {
          const state = evolveAll(decider.evolve, decider.initialState, history);
          const decision = decider.decide(command, state, context);
          const then = (expected: readonly Event[]): void => {
            expect(decision).toEqual({ outcome: 'accepted', events: expected });
            // The new events must also fold into the state without surprises.
            evolveAll(decider.evolve, state, expected);
          };
          return {
            then,
            thenNothing: () => then([]),
            thenRejects(code) {
              expect(decision).toMatchObject({ outcome: 'rejected', rejection: { code } });
              if (decision.outcome === 'rejected') expect(decision.rejection.message).toMatch(/\S/);
            },
          };
        },
      };
    },
  };
}
