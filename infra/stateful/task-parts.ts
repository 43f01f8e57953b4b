// The parts (definitions) of a runtime's tasks as the task loop sees them
// (docs/stateful-runtime.md "Several definitions per task"): each piece of
// work decided by the part owning it (part-routing.ts), on that part's states
// and parked processes, into that part's round.
import { endSpan } from '../tracing/spans';
import { ownersOf, routeWork, splitOffsets } from './part-routing';
import type { PositionStore } from './position-store';
import { decideWork, mergeInto, type DecideContext, type Round, type TaskView, type Work } from './round';
import type { Task } from './task';

/** One part (definition) of the tasks (docs/stateful-runtime.md "Several definitions per task"). */
export interface LoopPart<S, I> {
  readonly ctx: DecideContext<S, I>;
  /** Physical topics the part consumes (its inputs, its parked topic). */
  readonly consumed: readonly string[];
  /** Where the part's consumed positions go (position-store.ts). */
  readonly positions: PositionStore;
  readonly foldVersion: number;
}

export class TaskParts<S, I> {
  /** Physical topic -> the part consuming it. */
  private readonly owners: ReadonlyMap<string, number>;

  constructor(readonly all: ReadonlyArray<LoopPart<S, I>>) {
    this.owners = ownersOf(all);
  }

  /** A round's consumed offsets, one map per part (with one part, all of them). */
  splitOffsets(offsets: ReadonlyMap<string, number>): Array<ReadonlyMap<string, number>> {
    return this.all.length === 1 ? [offsets] : splitOffsets(offsets, this.owners, this.all.length);
  }

  view(task: Task<S>, part: number): TaskView<S> {
    const slot = task.parts[part];
    if (slot === undefined) throw new Error(`the task of partition ${task.partition} has no part ${part}`);
    return { partition: task.partition, epoch: task.epoch, committed: task.committed, stateOf: (id) => slot.state.get(id), parkedOf: (id) => slot.parked.get(id) };
  }

  /** The pieces of a piece of work by part (part-routing.ts); with one part, all of it is the part's. */
  route(work: Work): ReturnType<typeof routeWork> {
    if (this.all.length > 1) return routeWork(work, this.owners);
    return work.kind === 'flush' ? [] : [{ part: 0, work }];
  }

  part(index: number): LoopPart<S, I> {
    const part = this.all[index];
    if (part === undefined) throw new Error(`no part ${index} in this runtime`);
    return part;
  }

  /** Decides one piece of queued work into the rounds of the parts it belongs to; nothing of it is kept when a piece throws. */
  async decide(task: Task<S>, work: Work, merged: ReadonlyArray<Round<S>>): Promise<void> {
    const decided: Array<readonly [number, Round<S>]> = [];
    try {
      for (const { part, work: piece } of this.route(work)) {
        decided.push([part, await decideWork(this.part(part).ctx, this.view(task, part), piece, merged[part] as Round<S>)]);
      }
    } catch (error) {
      for (const [, r] of decided) for (const span of r.spans) endSpan(span, error);
      throw error;
    }
    for (const [part, r] of decided) mergeInto(merged[part] as Round<S>, r);
  }
}
