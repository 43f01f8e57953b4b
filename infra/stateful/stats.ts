import type { ParkedProcess } from './parking';

// A read-only snapshot of what a stateful runtime has done and holds; for
// health, tests and metrics (consumers/process-managers/runtime/metrics.ts).
export interface StatefulStats {
  readonly name: string;
  readonly groupId: string;
  /** Partition numbers this instance owns. */
  readonly partitions: readonly number[];
  /** States stored on the owned partitions (on disk; only a bounded few are decoded in memory). */
  readonly instances: number;
  readonly instancesByState: Readonly<Record<string, number>>;
  /** Deadlines in the states of owned processes. */
  readonly pendingDeadlines: number;
  /** Due deadlines waiting until the inputs that were in the log when they came due have been decided. */
  readonly deadlinesWaitingForInputs: number;
  /** Deadlines fired that changed their process. */
  readonly deadlinesFired: number;
  /** Inputs decided (consumed records routed in, plus fired deadlines), and those that changed a state. */
  readonly inputsDecided: number;
  readonly inputsChanged: number;
  readonly messagesEmitted: number;
  readonly messagesEmittedByType: Readonly<Record<string, number>>;
  /** Failures the processes recorded (declines, timeouts, unexpected inputs) and deliberate retries, since start. */
  readonly processFailures: number;
  readonly processRetries: number;
  readonly transactions: number;
  /** Transactions aborted (the round is retried after a restore). */
  readonly transactionsFailed: number;
  /** Partitions restored from their store and changelog (on assignment or after a failed transaction). */
  readonly restores: number;
  /** Rounds whose late records were written in one pass on predicted offsets, and predictions that missed (docs/stateful-runtime.md "Sequenced outputs"). */
  readonly offsetsPredicted?: number;
  readonly offsetGuessesMissed?: number;
  readonly deadLettered: number;
  /** Processes of the owned partitions that are parked (an input dead-lettered; later ones recorded, not decided). */
  readonly parkedProcesses: number;
  /** Inputs parked in them (each process's dead-lettered head and the inputs behind it): the depth to redrive. */
  readonly parkedInputs: number;
  /** Which processes are parked and why (their dead-lettered head), oldest first. */
  readonly parked: readonly ParkedProcess[];
  /** A runtime of several definitions per task: each part's states (the totals above are their sums). */
  readonly parts?: readonly PartStats[];
}

/** One part's (definition's) states over the owned partitions (docs/stateful-runtime.md "Several definitions per task"). */
export interface PartStats {
  readonly name: string;
  readonly instances: number;
  readonly instancesByState: Readonly<Record<string, number>>;
  readonly pendingDeadlines: number;
  readonly parkedProcesses: number;
  readonly parkedInputs: number;
}
