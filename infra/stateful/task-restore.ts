// Making partition tasks from what the log holds (docs/stateful-runtime.md
// "Assignment"): on assignment a task per new partition (load.ts: fence, open
// and restore its store, read its parked inputs and positions), and in place
// after a failed transaction or store write (reload). States of another fold
// version refuse the runtime for good (`refuse`).
import type { Admin } from 'kafkajs';
import type { Logger } from '../logging';
import type { DeadlineScheduler } from './deadline-scheduler';
import { loadPartitions, type LoadContext, type LoadPart } from './load';
import { StaleFoldError } from './partition-state';
import type { StatefulRuntimeOptions } from './runtime-options';
import type { StateDirectory } from './state-dir';
import type { RuntimeCounts, Task } from './task';
import type { TaskDeadlines } from './task-deadlines';
import type { TaskProducer } from './task-group';

export type RestoreSettings = Pick<
  StatefulRuntimeOptions<unknown, unknown>,
  'kafka' | 'codec' | 'changelogEpoch' | 'restoreTimeoutMs' | 'decodedCapacity' | 'restoreFetchBytes' | 'onRestoreProgress' | 'transactionalIdPrefix'
> & {
  /** Task p's producer, its task group's (task-group.ts). */
  readonly producerFor?: (partition: number) => Promise<TaskProducer>;
};

export interface RestoreParts<S> {
  readonly settings: RestoreSettings;
  readonly log: Logger;
  readonly groupId: string;
  /** The runtime's parts (definitions), each with its topics and position store. */
  readonly parts: ReadonlyArray<LoadPart<S>>;
  readonly counts: RuntimeCounts;
  readonly scheduler: DeadlineScheduler<Task<S>>;
  readonly deadlines: TaskDeadlines<S>;
  started(): { readonly admin: Admin; readonly stateDir: StateDirectory };
  /** States of another fold version were found: the runtime decides nothing more. */
  refuse(why: string): void;
}

export class TaskRestore<S> {
  /** Loads so far: a task's queued deadlines belong to the load that queued them. */
  private epochs = 0;

  constructor(private readonly parts: RestoreParts<S>) {}

  /** New tasks for `partitions`; a superseded load stops at its next batch, keeping what it restored. */
  async load(partitions: readonly number[], superseded?: AbortSignal): Promise<Array<Task<S>>> {
    const loaded = await this.loaded(partitions, superseded);
    return loaded.map((l) => ({ ...l, epoch: ++this.epochs, pendingOffsets: new Map(), positions: new Map(l.starts), queue: [], draining: undefined, dirty: false, retired: false, gates: [], flushTimer: undefined }));
  }

  /** After a failed transaction or store write: the task restored in place, with a new producer, store and epoch. */
  async reload(task: Task<S>): Promise<void> {
    const { scheduler, deadlines } = this.parts;
    await task.producer.disconnect().catch(() => undefined);
    for (const part of task.parts) part.state.close();
    scheduler.forget(task.partition);
    const [l] = await this.loaded([task.partition]);
    if (l === undefined) throw new Error(`partition ${task.partition} did not load`);
    task.producer = l.producer;
    task.epoch = ++this.epochs;
    task.parts = l.parts;
    task.committed.clear();
    for (const [topic, offset] of l.committed) task.committed.set(topic, offset);
    task.pendingOffsets.clear();
    for (const [topic, offset] of l.starts) task.positions.set(topic, Math.max(task.positions.get(topic) ?? 0, offset));
    task.gates = [];
    task.dirty = false;
    task.fenced = false;
    deadlines.track(task);
    scheduler.arm();
  }

  private async loaded(partitions: readonly number[], superseded?: AbortSignal): ReturnType<typeof loadPartitions<S>> {
    const { parts } = this;
    const { settings } = parts;
    const { admin, stateDir } = parts.started();
    const ctx: LoadContext<S> = {
      kafka: settings.kafka,
      admin,
      codec: settings.codec,
      log: parts.log,
      groupId: parts.groupId,
      ...(settings.transactionalIdPrefix === undefined ? {} : { transactionalIdPrefix: settings.transactionalIdPrefix }),
      ...(settings.producerFor === undefined ? {} : { producerFor: settings.producerFor }),
      parts: parts.parts,
      stateDir: stateDir.path,
      changelogEpoch: settings.changelogEpoch ?? '1',
      restoreTimeoutMs: settings.restoreTimeoutMs ?? 600_000,
      decodedCapacity: settings.decodedCapacity ?? 500,
      ...(superseded === undefined ? {} : { signal: superseded }),
      ...(settings.restoreFetchBytes === undefined ? {} : { fetchBytes: settings.restoreFetchBytes }),
      ...(settings.onRestoreProgress === undefined ? {} : { onProgress: settings.onRestoreProgress }),
    };
    try {
      const loaded = await loadPartitions(ctx, partitions);
      parts.counts.restores += partitions.length;
      return loaded;
    } catch (error) {
      if (error instanceof StaleFoldError) {
        parts.refuse(error.message);
        parts.log.fatal({ err: error }, 'refusing to decide on states of another fold version');
      }
      throw error;
    }
  }
}
