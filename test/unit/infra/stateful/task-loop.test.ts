// The per-task loop's queue: work queued at any moment is drained, including
// work queued in the microtasks between the drain loop seeing an empty queue
// and being marked done (a caller that queues more as soon as its work settles);
// and what it tells of each committed transaction (`transactionCommitted`).
import type { DecideContext } from '../../../../infra/stateful/round';
import type { Task } from '../../../../infra/stateful/task';
import { TaskLoop } from '../../../../infra/stateful/task-loop';
import type { Producer } from 'kafkajs';
import { zeroCounts } from '../../../../infra/stateful/task';
import { idleTask, quietHooks } from '../../../support/task-loop';

type S = { readonly n: number };

// A flush with no pending offsets decides nothing and writes nothing: no producer, state or codec is touched.
const ctx = { definition: { name: 'test', foldVersion: 1 }, changelog: { logical: 'changelog', physical: 'changelog' } } as unknown as DecideContext<S, unknown>;

/** A producer whose transactions only take offsets and commit, or fail at the commit. */
function offsetsProducer(fail: boolean): { readonly producer: Producer; readonly commits: string[] } {
  const commits: string[] = [];
  const transaction = () =>
    Promise.resolve({
      sendOffsets: ({ topics }: { topics: ReadonlyArray<{ topic: string; partitions: ReadonlyArray<{ offset: string }> }> }) => {
        commits.push(topics.map((t) => `${t.topic}@${t.partitions[0]?.offset ?? '?'}`).join(','));
        return Promise.resolve();
      },
      commit: () => (fail ? Promise.reject(new Error('the coordinator is gone')) : Promise.resolve()),
      abort: () => Promise.resolve(),
    });
  return { producer: { transaction } as unknown as Producer, commits };
}

function newLoop(): TaskLoop<S, unknown> {
  return new TaskLoop(ctx, quietHooks<S>());
}

const newTask = (): Task<S> => idleTask<S>();

/** Resolves `p`, or rejects after `ms` (real time; generous: a drained flush settles within milliseconds). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} was never drained`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

describe('the task loop', () => {
  it('drains work queued in any microtask after the work before it settled, however many hops later', async () => {
    const loop = newLoop();
    const task = newTask();
    for (let hops = 0; hops <= 12; hops += 1) {
      const second = loop.submit(task, { kind: 'flush' }).then(async () => {
        for (let i = 0; i < hops; i += 1) await Promise.resolve();
        return loop.submit(task, { kind: 'flush' });
      });
      await within(second, 10_000, `work queued ${hops} microtasks after the previous settled`);
      expect(task.queue).toEqual([]);
    }
    // Once idle, the loop is marked done.
    await new Promise((resolve) => setImmediate(resolve));
    expect(task.draining).toBeUndefined();
  }, 60_000);

  it('tells how long each committed transaction took, and nothing of one that failed', async () => {
    const observed: Array<{ partition: number; seconds: number }> = [];
    const counts = zeroCounts();
    const loop = new TaskLoop(ctx, quietHooks<S>({ counts, transactionCommitted: (partition, seconds) => observed.push({ partition, seconds }) }));
    const ok = offsetsProducer(false);
    // Offsets pending from rounds that changed nothing: a flush commits them in a transaction of their own.
    await loop.submit(idleTask<S>({ partition: 3, producer: ok.producer, pendingOffsets: new Map([['in', 5]]) }), { kind: 'flush' });
    expect(ok.commits).toEqual(['in@5']);
    expect(observed).toHaveLength(1);
    expect(observed[0]?.partition).toBe(3);
    expect(observed[0]?.seconds).toBeGreaterThanOrEqual(0);
    expect(observed[0]?.seconds).toBeLessThan(10);
    const failing = offsetsProducer(true);
    await expect(loop.submit(idleTask<S>({ partition: 4, producer: failing.producer, pendingOffsets: new Map([['in', 9]]) }), { kind: 'flush' })).rejects.toThrow(/coordinator is gone/);
    expect([observed.length, counts.transactions, counts.transactionsFailed]).toEqual([1, 1, 1]);
  });

  it('settles a committed round whose transaction observer throws', async () => {
    const broken = (): void => {
      throw new Error('observer broken');
    };
    const throwing = new TaskLoop(ctx, quietHooks<S>({ transactionCommitted: broken }));
    const ok = offsetsProducer(false);
    const task = idleTask<S>({ producer: ok.producer, pendingOffsets: new Map([['in', 2]]) });
    await within(throwing.submit(task, { kind: 'flush' }), 10_000, 'the round');
    expect([ok.commits, task.pendingOffsets.size, task.dirty]).toEqual([['in@2'], 0, false]);
  });
});
