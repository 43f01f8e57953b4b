// The processor's restaurant_command* metrics (metrics.ts) fed by the processor
// on the runtime (processor.ts). The runtime tells nothing per
// command at its commits, so:
// * commands by outcome, events by type and the latency are counted as each
//   command is decided (a wrapper around the definition's decide), not when its
//   transaction commits: a round aborted and decided again counts twice; the
//   latency is from the command's issuedAt (the gateway's clock) to the decision;
// * transactions (committed, failed) come from the runtime's stats, polled,
//   under aggregate="all" (a transaction spans the parts of a task);
// * restaurant_command_transaction_duration_seconds is observed at each
//   commit (the runtime's `onTransactionCommitted`), also under
//   aggregate="all": from the start of the round's decisions to its commit.
import type { Decision, StatefulDefinition } from '../../infra/stateful/definition';
import type { StatefulStats } from '../../infra/stateful/stats';
import type { CommandReply } from '../../schemas/generated/types';
import type { CommandInput } from './command-definition';
import { REPLY_RECORD } from './command-records';
import type { CommandState } from './command-state';
import type { CommandMetricRecorder } from './metrics';

/** The definition, its decisions counted in `record`. */
export function meteredDefinition(
  definition: StatefulDefinition<CommandState, CommandInput>,
  aggregate: string,
  eventsTopic: string,
  record: CommandMetricRecorder,
  clock: () => number = Date.now,
): StatefulDefinition<CommandState, CommandInput> {
  return {
    ...definition,
    decide(input: CommandInput, state: CommandState): Decision<CommandState> {
      let decision: Decision<CommandState>;
      try {
        decision = definition.decide(input, state);
      } catch (error) {
        // Thrown: the runtime dead-letters the record and parks its aggregate.
        record.processed(aggregate, 'unknown', 'dead_lettered');
        throw error;
      }
      if (input.kind !== 'command') return decision;
      const { commandId, issuedAt } = input.metadata;
      const events = decision.emit.filter((m) => m.topic === eventsTopic);
      const reply = decision.emit.find((m) => m.recordName === REPLY_RECORD)?.value as CommandReply | undefined;
      const duplicate = state.recentCommands.some((r) => r.commandId === commandId);
      const outcome = duplicate ? 'duplicate' : reply?.status === 'REJECTED' ? 'rejected' : 'accepted';
      record.processed(aggregate, input.type, outcome);
      for (const event of events) record.event(aggregate, event.type);
      if (Number.isFinite(issuedAt)) record.latency(aggregate, Math.max(0, clock() - issuedAt) / 1000);
      return decision;
    },
  };
}

/** The runtime's `onTransactionCommitted`: each committed round's duration into restaurant_command_transaction_duration_seconds, under aggregate="all". */
export function transactionDurations(record: CommandMetricRecorder): (partition: number, seconds: number) => void {
  return (_partition, seconds) => record.transactionDuration('all', seconds);
}

/** Feeds restaurant_command_transactions_total from the runtime's stats, every `everyMs`. */
export class RuntimeTransactionMeter {
  private timer: NodeJS.Timeout | undefined;
  private seen = { transactions: 0, transactionsFailed: 0 };

  constructor(
    private readonly stats: () => Pick<StatefulStats, 'transactions' | 'transactionsFailed'>,
    private readonly record: CommandMetricRecorder,
    private readonly everyMs = 1_000,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => this.flush(), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Counts the transactions since the last flush. */
  flush(): void {
    const { transactions, transactionsFailed } = this.stats();
    if (transactions > this.seen.transactions) this.record.transaction('all', 'committed', transactions - this.seen.transactions);
    if (transactionsFailed > this.seen.transactionsFailed) this.record.transaction('all', 'failed', transactionsFailed - this.seen.transactionsFailed);
    this.seen = { transactions, transactionsFailed };
  }
}
