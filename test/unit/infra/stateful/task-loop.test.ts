// The per-task loop's queue: work queued at any moment is drained, including
// work queued in the microtasks between the drain loop seeing an empty queue
// and being marked done (a caller that queues more as soon as its work settles).
import type { DecideContext } from '../../../../infra/stateful/round';
import type { Task } from '../../../../infra/stateful/task';
import { TaskLoop } from '../../../../infra/stateful/task-loop';
import { idleTask, quietHooks } from '../../../support/task-loop';

type S = { readonly n: number };

// A flush with no pending offsets decides nothing and writes nothing: no producer, state or codec is touched.
const ctx = { definition: { name: 'test', foldVersion: 1 } } as unknown as DecideContext<S, unknown>;

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
});
