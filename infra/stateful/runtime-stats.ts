// The stateful runtime's stats (stats.ts), counted over its tasks without
// decoding any state: the counts by status and the pending deadlines come from
// each partition store's summary columns (partition-state.ts).
import type { StatefulDefinition } from './definition';
import { summaryOf, type ParkedProcess } from './parking';
import type { PartStats, StatefulStats } from './stats';
import type { RuntimeCounts, Task } from './task';

/** The states of one part (or, `part` undefined, of all) over the tasks. */
function partStats<S>(tasks: Iterable<Task<S>>, part: number | undefined): Omit<PartStats, 'name'> {
  let instances = 0;
  let pendingDeadlines = 0;
  let parkedProcesses = 0;
  let parkedInputs = 0;
  const byStatus = new Map<string, number>();
  for (const task of tasks) {
    for (const [k, { state, parked }] of task.parts.entries()) {
      if (part !== undefined && k !== part) continue;
      instances += state.size;
      pendingDeadlines += state.pendingDeadlines;
      for (const [label, n] of state.labels) byStatus.set(label, (byStatus.get(label) ?? 0) + n);
      parkedProcesses += parked.size;
      for (const list of parked.values()) parkedInputs += list.length;
    }
  }
  const instancesByState = Object.freeze(Object.fromEntries([...byStatus].filter(([, n]) => n > 0)));
  return { instances, instancesByState, pendingDeadlines, parkedProcesses, parkedInputs };
}

export function statsOf<S>(
  definitions: ReadonlyArray<Pick<StatefulDefinition<S, unknown>, 'name'>>,
  name: string,
  groupId: string,
  tasks: ReadonlyMap<number, Task<S>>,
  counts: RuntimeCounts & { readonly emittedByType: ReadonlyMap<string, number>; readonly deadLettered: number },
): StatefulStats {
  let waiting = 0;
  for (const task of tasks.values()) for (const gate of task.gates) waiting += gate.due.length;
  const { emittedByType, deadLettered, ...runtime } = counts;
  return Object.freeze({
    name,
    groupId,
    partitions: [...tasks.keys()].sort((a, b) => a - b),
    ...partStats(tasks.values(), undefined),
    deadlinesWaitingForInputs: waiting,
    messagesEmittedByType: Object.freeze(Object.fromEntries(emittedByType)),
    deadLettered,
    parked: Object.freeze(parkedOf(tasks.values())),
    // Several definitions per task: each part's states (docs/stateful-runtime.md "Several definitions per task").
    ...(definitions.length > 1 ? { parts: Object.freeze(definitions.map((d, k) => Object.freeze({ name: d.name, ...partStats(tasks.values(), k) }))) } : {}),
    ...runtime,
  });
}

/** The parked processes of the tasks, oldest first, with why (docs/stateful-runtime.md "Parking"). */
export function parkedOf<S>(tasks: Iterable<Task<S>>): ParkedProcess[] {
  const out: ParkedProcess[] = [];
  for (const task of tasks) {
    for (const { parked } of task.parts) {
      for (const list of parked.values()) {
        const summary = summaryOf(list);
        if (summary !== undefined) out.push(summary);
      }
    }
  }
  return out.sort((a, b) => a.parkedAt - b.parkedAt || (a.processId < b.processId ? -1 : 1));
}
