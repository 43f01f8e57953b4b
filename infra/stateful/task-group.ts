// Task groups of k partitions (docs/stateful-runtime.md "Task groups"): the
// tasks of k consecutive partition numbers (group g = ⌊p ÷ k⌋; the
// co-partitioned assigner deals whole groups, runtime-consumer.ts) share ONE
// transactional producer, `<prefix><p>` for k = 1 and `<prefix><first>-<last>`
// above (the ids the command processor's partition groups have always had), and their rounds
// share its transactions: each task still decides its own rounds on its own
// queue (the decoupled fetch, deadlines, stores, positions: all per task), but
// a round's transaction joins the group's open one, which commits once every
// round that joined it has asked to commit (group commit). While one commits,
// the next collects the rounds that became ready meanwhile: at most one
// transaction in flight per group, each as large as the group's rounds. Once a
// transaction has begun (its rounds send) it takes no more rounds: a round
// ready later waits for the next one instead of holding up this one's commit.
// A transaction begins once no task of the group is deciding a round, or
// after BEGIN_WAIT_MS (the transaction itself: group-transaction.ts).
//
// A round that aborts (its send failed, a missed offset guess) dooms the
// shared transaction: it is aborted once every round in it has settled, and
// the others' commits fail as well (each task is then restored, as after any
// failed transaction). A group whose transaction did not commit fences again
// (a new producer with its id) before its next transaction, and before any of
// its tasks restores: whatever the failed one left is resolved first.
//
// Changing k changes the ids. With `fenceOtherSizes` a group's first producer
// also fences the ids every other group size up to the partition count would
// give its partitions, so a zombie left by a deployment with another k cannot
// commit after this group restored (a live member of another k cannot be in
// the consumer group at the same time: the assigner's protocol is named after k).
import type { Kafka, Transaction } from 'kafkajs';
import { Group } from './group-transaction';
import { fencedProducer } from '../kafka/transactions';
import type { Logger } from '../logging';

/** What a task needs of its producer: a transaction, and to let go of it. */
export interface TaskProducer {
  transaction(): Promise<TaskTransaction>;
  disconnect(): Promise<void>;
  /**
   * A round of the task is being decided (`true`) or is over (`false`): a group's next transaction waits (a
   * little) for the rounds being decided to join it (below). Producers of one task have nothing to wait for.
   */
  deciding?(on: boolean): void;
}
export type TaskTransaction = Pick<Transaction, 'sendBatch' | 'sendOffsets' | 'commit' | 'abort'>;
export { BEGIN_WAIT_MS, SharedTransactionAborted } from './group-transaction';

/** Group g of size k holds partitions g·k … g·k + k − 1. */
export const groupOf = (partition: number, k: number): number => Math.floor(partition / k);

/** A group's transactional id, the one the command processor's groups of k partitions have always used (a zombie of an older build is fenced by it). */
export function groupTransactionalId(prefix: string, k: number, group: number): string {
  const first = group * k;
  return k === 1 ? `${prefix}${first}` : `${prefix}${first}-${first + k - 1}`;
}

/** The ids groups of every other size (1 … partitions) give any of `members`. */
export function otherSizeIds(prefix: string, k: number, partitions: number, members: readonly number[]): string[] {
  const own = groupTransactionalId(prefix, k, groupOf(members[0] ?? 0, k));
  const ids = new Set<string>();
  for (let size = 1; size <= partitions; size += 1) for (const p of members) ids.add(groupTransactionalId(prefix, size, groupOf(p, size)));
  ids.delete(own);
  return [...ids];
}

export interface TaskGroupsOptions {
  readonly kafka: Kafka;
  readonly log: Logger;
  /** Transactional ids are `<prefix><p>` (k = 1) or `<prefix><first>-<last>`. */
  readonly prefix: string;
  readonly k: number;
  /** The partition count of the inputs. */
  readonly partitions: number;
  /** Fence the ids of every other group size at a group's first producer (see above). */
  readonly fenceOtherSizes: boolean;
}

/** The runtime's producers, one per task group; each task gets a handle on its group's (`producerFor`). */
export class TaskGroups {
  private readonly groups = new Map<number, Group>();
  private readonly fencedOthers = new Map<string, Promise<void>>();
  /** Kafka transactions committed (each one or several rounds). */
  transactions = 0;

  constructor(private readonly options: TaskGroupsOptions) {
    if (!Number.isSafeInteger(options.k) || options.k < 1) throw new RangeError(`partitionsPerTask must be a positive integer, not ${options.k}`);
  }

  get k(): number {
    return this.options.k;
  }

  /** Task p's producer: its group's, fenced (made, or made again after a failed transaction) before this returns. */
  async producerFor(partition: number): Promise<TaskProducer> {
    const g = groupOf(partition, this.options.k);
    let group = this.groups.get(g);
    if (group === undefined) {
      group = this.group(g);
      this.groups.set(g, group);
    }
    // Whether this task counts among the group's deciding ones: it stops counting when it joins or its round ends.
    let deciding = false;
    const decidingNow = (on: boolean): void => {
      if (on === deciding) return;
      deciding = on;
      (group as Group).deciding(on);
    };
    const handle: TaskProducer = {
      transaction: () => {
        decidingNow(false);
        return (group as Group).join();
      },
      disconnect: () => {
        decidingNow(false);
        return this.release(g, group as Group, handle);
      },
      deciding: decidingNow,
    };
    group.holders.add(handle);
    try {
      await group.live();
    } catch (error) {
      await this.release(g, group, handle);
      throw error;
    }
    return handle;
  }

  private group(g: number): Group {
    const { kafka, prefix, k, partitions, log } = this.options;
    const id = groupTransactionalId(prefix, k, g);
    const members: number[] = [];
    for (let p = g * k; p < (g + 1) * k && p < partitions; p += 1) members.push(p);
    const fence = async (): Promise<void> => {
      if (!this.options.fenceOtherSizes) return;
      const ids = otherSizeIds(prefix, k, partitions, members);
      await Promise.all(ids.map((other) => this.fenceOnce(other)));
      log.debug({ group: id, fenced: ids }, 'fenced the transactional ids other group sizes give these partitions');
    };
    return new Group(id, fence, () => fencedProducer(kafka, id), () => (this.transactions += 1));
  }

  /**
   * Another size's id, fenced once in this runtime's life: all members of a consumer group share one k (the
   * assigner's protocol), so that id is only ever a zombie's from an earlier deployment, fenced at the first go.
   */
  private fenceOnce(id: string): Promise<void> {
    let fenced = this.fencedOthers.get(id);
    if (fenced === undefined) {
      fenced = fencedProducer(this.options.kafka, id).then((p) => p.disconnect());
      fenced.catch(() => this.fencedOthers.delete(id));
      this.fencedOthers.set(id, fenced);
    }
    return fenced;
  }

  private async release(g: number, group: Group, handle: TaskProducer): Promise<void> {
    if (!group.holders.delete(handle) || group.holders.size > 0) return;
    if (this.groups.get(g) === group) this.groups.delete(g);
    await group.close();
  }
}

/** The runtime's task groups when it is given `partitionsPerTask` (none without: each task fences and holds its own producer, load.ts). */
export function taskGroupsOf(options: { readonly kafka: Kafka; readonly groupId: string; readonly transactionalIdPrefix?: string; readonly partitionsPerTask?: number }, log: Logger, partitions: number): TaskGroups | undefined {
  if (options.partitionsPerTask === undefined) return undefined;
  return new TaskGroups({ kafka: options.kafka, log, prefix: options.transactionalIdPrefix ?? `${options.groupId}.`, k: options.partitionsPerTask, partitions, fenceOtherSizes: true });
}
