// The decoupled fetch's queue (infra/stateful/fetch-queue.ts): what a batch
// fetched again queues (dedup by offset), the round cap, and when a partition
// is paused and resumed.
import type { DecodedRecord, PartitionBatch } from '../../../../infra/consuming/batch-sink';
import { FetchQueue, fetchLimits, shouldPause, shouldResume, takeRound, unseen, type ConsumerControl } from '../../../../infra/stateful/fetch-queue';
import type { Queued, Task } from '../../../../infra/stateful/task';
import { rootLogger } from '../../../../infra/logging';
import { idleTask } from '../../../support/task-loop';

const record = (offset: number): DecodedRecord => ({ topic: 't', partition: 0, offset, key: null, rawValue: null, headers: undefined, type: 'X', fullName: 'x.X', value: {} });

/** A batch of records at `offsets` (consumed up to one past the last, or `upTo`). */
function batch(offsets: readonly number[], upTo?: number): PartitionBatch {
  const last = offsets[offsets.length - 1] ?? 0;
  return { topic: 't', partition: 0, records: offsets.map(record), deadLetters: [], nextOffset: last + 1, consumedUpTo: upTo ?? last + 1, expectedCheckpoint: undefined };
}

const queuedBatch = (offsets: readonly number[]): Queued => ({ work: { kind: 'batch', batch: batch(offsets) }, settle: () => undefined });
const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

describe('unseen (dedup by offset)', () => {
  it('keeps a batch whole when nothing is queued yet or it starts past what is', () => {
    const b = batch([5, 6, 7]);
    expect(unseen(b, undefined)).toBe(b);
    expect(unseen(b, 5)).toBe(b);
  });

  it('drops a batch fetched again whole, markers included', () => {
    expect(unseen(batch([5, 6, 7]), 8)).toBeUndefined();
    expect(unseen(batch([5, 6, 7], 9), 9)).toBeUndefined();
  });

  it('keeps only the records past what is queued of a batch that overlaps it', () => {
    const part = unseen(batch([5, 6, 7, 8]), 7);
    expect(part?.records.map((r) => r.offset)).toEqual([7, 8]);
    expect(part?.consumedUpTo).toBe(9);
  });

  it('keeps a batch of trailing markers only that moves past what is queued', () => {
    expect(unseen(batch([5, 6], 9), 7)?.records).toEqual([]);
  });
});

describe('takeRound (the per-round cap)', () => {
  it('takes whole batches while they stay within the cap, and always the first', () => {
    const queue = [queuedBatch(range(0, 300)), queuedBatch(range(300, 150)), queuedBatch(range(450, 100))];
    expect(takeRound(queue, 500).map((q) => (q.work.kind === 'batch' ? q.work.batch.records.length : 0))).toEqual([300, 150]);
    expect(queue).toHaveLength(1);
    const big = [queuedBatch(range(0, 900)), queuedBatch(range(900, 1))];
    expect(takeRound(big, 500)).toHaveLength(1);
  });

  it('takes deadlines and flushes, which bring no records, with the batches before them', () => {
    const queue: Queued[] = [queuedBatch(range(0, 500)), { work: { kind: 'flush' }, settle: () => undefined }, queuedBatch([500])];
    expect(takeRound(queue, 500).map((q) => q.work.kind)).toEqual(['batch', 'flush']);
  });
});

describe('pause thresholds', () => {
  const limits = fetchLimits({ maxQueued: 100 });
  it('pauses past maxQueued and resumes below a quarter of it', () => {
    expect(limits).toEqual({ maxQueued: 100, resumeBelow: 25, maxPerRound: 500 });
    expect(shouldPause(100, limits)).toBe(false);
    expect(shouldPause(101, limits)).toBe(true);
    expect(shouldResume(25, limits)).toBe(false);
    expect(shouldResume(24, limits)).toBe(true);
  });
});

describe('the fetch queue of a task', () => {
  type S = { readonly n: number };
  function setUp() {
    const calls: string[] = [];
    const consumer: ConsumerControl = {
      rewind: (topic, partition, offset) => calls.push(`rewind ${topic}:${partition}@${offset}`),
      pause: (topic, partition) => calls.push(`pause ${topic}:${partition}`),
      resume: (topic, partition) => calls.push(`resume ${topic}:${partition}`),
    };
    let restored: () => void = () => undefined;
    const queue = new FetchQueue<S>({
      log: rootLogger.child({}, { level: 'silent' }),
      limits: fetchLimits({ maxQueued: 10, maxPerRound: 4 }),
      topics: ['t'],
      consumer: () => consumer,
      kick: () => undefined,
      restore: () => new Promise<void>((resolve) => (restored = resolve)),
      stopping: () => false,
    });
    const task: Task<S> = idleTask<S>();
    return { calls, queue, task, restore: () => restored() };
  }

  it('queues a record once however often it is fetched, pauses past the limit and resumes once drained below a quarter', () => {
    const { calls, queue, task } = setUp();
    queue.enqueue(task, batch(range(0, 6)));
    queue.enqueue(task, batch(range(0, 6))); // fetched again (a rebalance): nothing new
    queue.enqueue(task, batch(range(3, 6))); // overlapping: 6..8 are new
    expect(task.queue.flatMap((q) => (q.work.kind === 'batch' ? q.work.batch.records.map((r) => r.offset) : []))).toEqual(range(0, 9));
    expect(calls).toEqual([]);
    queue.enqueue(task, batch(range(9, 3)));
    expect(calls).toEqual(['pause t:0']);
    expect(queue.idle(task, 't')).toBe(false);

    const first = queue.take(task);
    expect(first).toHaveLength(1); // 6 records: over the cap of 4 alone
    for (const q of first) q.settle();
    queue.settled(task);
    expect(calls).toEqual(['pause t:0']); // 6 still wait: not below 10/4
    for (const q of queue.take(task)) q.settle();
    for (const q of queue.take(task)) q.settle();
    queue.settled(task);
    expect(calls).toEqual(['pause t:0', 'resume t:0']);
    expect(queue.idle(task, 't')).toBe(true);
  });

  it('after a failed round drops what is queued and fetched, then rewinds to the committed offsets once restored', async () => {
    const { calls, queue, task, restore } = setUp();
    queue.enqueue(task, batch(range(0, 3)));
    queue.enqueue(task, batch(range(3, 3)));
    const round = queue.take(task);
    task.dirty = true;
    for (const q of round) q.settle(new Error('aborted'));
    queue.rewind(task);
    expect(task.queue).toEqual([]);
    expect(calls).toEqual(['pause t:0']);
    queue.enqueue(task, batch(range(6, 2))); // fetched before the rewind: dropped
    expect(task.queue).toEqual([]);
    expect(queue.idle(task, 't')).toBe(false);

    task.dirty = false; // the restore
    task.committed.set('t', 3); // the group's offset as restored: the first round did commit after all
    restore();
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toEqual(['pause t:0', 'rewind t:0@3', 'resume t:0']);
    queue.enqueue(task, batch(range(0, 8))); // the re-fetch: only what was not committed
    expect(task.queue.flatMap((q) => (q.work.kind === 'batch' ? q.work.batch.records.map((r) => r.offset) : []))).toEqual(range(3, 5));
  });
});
