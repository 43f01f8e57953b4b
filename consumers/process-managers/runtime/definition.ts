// A process manager is a definition on the stateful runtime
// (infra/stateful/definition.ts) whose name picks its changelog topic in the
// catalog (schemas/topics.ts).
import type { ProcessManagerName } from '../../../schemas/topics';
import type { Decision, StatefulDefinition } from '../../../infra/stateful/definition';

export { eventMessage, splitRecord, type Deadline, type DecodedRecord, type Outgoing } from '../../../infra/stateful/definition';

export type ProcessDecision<S> = Decision<S>;

export interface ProcessDefinition<S, I> extends StatefulDefinition<S, I> {
  /** Which changelog (schemas/topics.ts) holds the state. */
  readonly name: ProcessManagerName;
}
