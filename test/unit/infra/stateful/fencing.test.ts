// A fenced task (infra/stateful/fencing.ts): which errors mean another producer
// took the transactional id, when the group says a partition is still this
// member's, and that the task loop does not restore (fencing the new owner
// back) until the group says so.
import { AssignerProtocol, KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSProtocolError, type GroupDescription, type Producer } from 'kafkajs';
import { assignedIn, isFenced } from '../../../../infra/stateful/fencing';
import type { DecideContext } from '../../../../infra/stateful/round';
import { PartitionRevoked } from '../../../../infra/stateful/task';
import { TaskLoop } from '../../../../infra/stateful/task-loop';
import { idleTask, quietHooks } from '../../../support/task-loop';

// As kafkajs builds one from a broker's error code (its typings only name the Error form).
const ProtocolError = KafkaJSProtocolError as unknown as new (e: { type: string; code: number; retriable: boolean; message: string }) => KafkaJSProtocolError;
const fencedError = (): KafkaJSProtocolError => new ProtocolError({ type: 'INVALID_PRODUCER_EPOCH', code: 47, retriable: false, message: 'Producer attempted an operation with an old epoch' });

describe('isFenced', () => {
  it('knows the broker saying another producer has the transactional id, also wrapped by kafkajs retries', () => {
    expect(isFenced(fencedError())).toBe(true);
    expect(isFenced(new ProtocolError({ type: 'PRODUCER_FENCED', code: 90, retriable: false, message: 'fenced' }))).toBe(true);
    // As kafkajs's retrier gives up: the error it wraps is the cause.
    const NonRetriable = KafkaJSNonRetriableError as unknown as new (e: Error, options: { cause: Error }) => Error;
    expect(isFenced(new NonRetriable(fencedError(), { cause: fencedError() }))).toBe(true);
    expect(isFenced(new Error('transaction failed', { cause: fencedError() }))).toBe(true);
  });

  it('does not take a lost broker or a refused write for a fence', () => {
    expect(isFenced(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED'))).toBe(false);
    expect(isFenced(new ProtocolError({ type: 'NOT_ENOUGH_REPLICAS', code: 19, retriable: true, message: 'fewer in-sync replicas' }))).toBe(false);
    expect(isFenced(undefined)).toBe(false);
  });
});

const assignment = (topics: Record<string, number[]>): Buffer => AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: topics, userData: Buffer.alloc(0) });

function group(state: GroupDescription['state'], members: Array<[string, Record<string, number[]>]>): GroupDescription {
  return {
    groupId: 'g',
    state,
    protocol: 'CoPartitioned',
    protocolType: 'consumer',
    members: members.map(([memberId, topics]) => ({ memberId, clientId: 'c', clientHost: 'h', memberMetadata: Buffer.alloc(0), memberAssignment: assignment(topics) })),
  };
}

describe('assignedIn', () => {
  const topics = ['in.a', 'in.b'];

  it('is yes only for a settled group that assigns this member the partition', () => {
    const settled = group('Stable', [['me', { 'in.a': [0, 2], 'in.b': [0, 2] }], ['other', { 'in.a': [1], 'in.b': [1] }]]);
    expect(assignedIn(settled, 'me', topics, 2)).toBe(true);
    expect(assignedIn(settled, 'me', topics, 1)).toBe(false);
  });

  it('is no while the group rebalances, for a member it no longer has, and before this member joined', () => {
    expect(assignedIn(group('PreparingRebalance', [['me', { 'in.a': [0] }]]), 'me', topics, 0)).toBe(false);
    expect(assignedIn(group('Stable', [['other', { 'in.a': [0, 1] }]]), 'me', topics, 0)).toBe(false);
    expect(assignedIn(group('Stable', [['me', { 'in.a': [0] }]]), undefined, topics, 0)).toBe(false);
    expect(assignedIn(undefined, 'me', topics, 0)).toBe(false);
  });
});

describe('the task loop after a fenced transaction', () => {
  type S = { readonly n: number };
  const ctx = { definition: { name: 'test', foldVersion: 1 }, changelog: { physical: 'changelog' } } as unknown as DecideContext<S, unknown>;

  it('restores the task (fencing whoever has the id) only once the group says the partition is still its own', async () => {
    let owned = false;
    const reloads: number[] = [];
    const loop = new TaskLoop(
      ctx,
      quietHooks<S>({
        reload: async (t) => {
          reloads.push(t.partition);
          t.dirty = false;
          t.fenced = false;
        },
        owned: async () => owned,
      }),
    );
    // A producer whose every transaction is refused as fenced when it commits the offsets.
    const producer = {
      transaction: async () => ({
        sendBatch: async () => [],
        sendOffsets: async () => Promise.reject(fencedError()),
        commit: async () => undefined,
        abort: async () => undefined,
      }),
    } as unknown as Producer;
    const task = idleTask<S>({ partition: 3, producer, pendingOffsets: new Map([['in.a', 10]]) });

    await expect(loop.submit(task, { kind: 'flush' })).rejects.toThrow('old epoch');
    expect(task.fenced).toBe(true);
    // Another instance has the partition now: its work goes back, and nothing is restored (which would fence that instance).
    await expect(loop.submit(task, { kind: 'flush' })).rejects.toBeInstanceOf(PartitionRevoked);
    await expect(loop.submit(task, { kind: 'flush' })).rejects.toBeInstanceOf(PartitionRevoked);
    expect(reloads).toEqual([]);
    // The group says it is ours after all (the coordinator aborted a transaction that ran too long): restored, then tried.
    owned = true;
    await expect(loop.submit(task, { kind: 'flush' })).rejects.toThrow('old epoch');
    expect(reloads).toEqual([3]);
    clearTimeout(task.flushTimer);
  });
});
