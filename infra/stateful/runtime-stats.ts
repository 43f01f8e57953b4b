// The stateful runtime's stats (stats.ts), counted over its tasks without
// decoding any state: the counts by status and the pending deadlines come from
// each partition store's summary columns (partition-state.ts).
import type { StatefulDefinition } from './definition';
import { summaryOf, type ParkedProcess } from './parking';
import type { StatefulStats } from './stats';
import type { RuntimeCounts, Task } from './task';

export function statsOf<S>(
  definition: Pick<StatefulDefinition<S, unknown>, 'name'>,
  groupId: string,
  tasks: ReadonlyMap<number, Task<S>>,
  counts: RuntimeCounts & { readonly emittedByType: ReadonlyMap<string, number>; readonly deadLettered: number },
): StatefulStats {
  let instances = 0;
  let waiting = 0;
  let pendingDeadlines = 0;
  const byStatus = new Map<string, number>();
  for (const task of tasks.values()) {
    instances += task.state.size;
    pendingDeadlines += task.state.pendingDeadlines;
    for (const [label, n] of task.state.labels) byStatus.set(label, (byStatus.get(label) ?? 0) + n);
    for (const gate of task.gates) waiting += gate.due.length;
  }
  const { emittedByType, deadLettered, ...runtime } = counts;
  return Object.freeze({
    name: definition.name,
    groupId,
    partitions: [...tasks.keys()].sort((a, b) => a - b),
    instances,
    instancesByState: Object.freeze(Object.fromEntries([...byStatus].filter(([, n]) => n > 0))),
    pendingDeadlines,
    deadlinesWaitingForInputs: waiting,
    messagesEmittedByType: Object.freeze(Object.fromEntries(emittedByType)),
    deadLettered,
    parkedProcesses: [...tasks.values()].reduce((n, task) => n + task.parked.size, 0),
    parkedInputs: [...tasks.values()].reduce((n, task) => n + [...task.parked.values()].reduce((m, list) => m + list.length, 0), 0),
    parked: Object.freeze(parkedOf(tasks.values())),
    ...runtime,
  });
}

/** The parked processes of the tasks, oldest first, with why (docs/stateful-runtime.md "Parking"). */
export function parkedOf<S>(tasks: Iterable<Task<S>>): ParkedProcess[] {
  const out: ParkedProcess[] = [];
  for (const task of tasks) {
    for (const list of task.parked.values()) {
      const summary = summaryOf(list);
      if (summary !== undefined) out.push(summary);
    }
  }
  return out.sort((a, b) => a.parkedAt - b.parkedAt || (a.processId < b.processId ? -1 : 1));
}
