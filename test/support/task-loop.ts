// Unit-test fixtures of the stateful runtime's per-task loop (infra/stateful/task-loop.ts):
// hooks that do nothing unless a test gives its own, and a task with nothing pending.
import type { Producer } from 'kafkajs';
import { rootLogger } from '../../infra/logging';
import type { DeadlineScheduler } from '../../infra/stateful/deadline-scheduler';
import type { PartitionState } from '../../infra/stateful/partition-state';
import { zeroCounts, type Task } from '../../infra/stateful/task';
import type { LoopHooks } from '../../infra/stateful/task-loop';

/** The loop's hooks: silent, nothing scheduled, nothing restored; `overrides` replace any of them. */
export function quietHooks<S>(overrides: Partial<LoopHooks<S>> = {}): LoopHooks<S> {
  return {
    log: rootLogger.child({}, { level: 'silent' }),
    groupId: 'test',
    offsetFlushMs: 60_000,
    counts: zeroCounts(),
    emittedByType: new Map(),
    positions: { mode: 'group', read: () => Promise.resolve(new Map()), write: () => Promise.resolve({ records: [], sendOffsets: true }) },
    foldVersion: 1,
    clock: Date.now,
    scheduler: { later: () => undefined, arm: () => undefined } as unknown as DeadlineScheduler<Task<S>>,
    stopping: () => false,
    reload: () => Promise.resolve(),
    replaced: () => undefined,
    unparked: () => undefined,
    ...overrides,
  };
}

/** A task of partition 0 with nothing queued, pending or parked; `overrides` replace any field. */
export function idleTask<S>(overrides: Partial<Task<S>> = {}): Task<S> {
  return {
    partition: 0,
    producer: {} as Producer,
    epoch: 1,
    parts: [{ state: {} as PartitionState<S>, parked: new Map() }],
    committed: new Map(),
    pendingOffsets: new Map(),
    positions: new Map(),
    queue: [],
    draining: undefined,
    dirty: false,
    retired: false,
    gates: [],
    flushTimer: undefined,
    ...overrides,
  };
}
