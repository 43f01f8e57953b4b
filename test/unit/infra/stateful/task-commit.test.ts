// The store write after a commit (infra/stateful/task-commit.ts): each changed
// state's previous value comes from the round (`Round.before`, kept as it was
// read to decide), not from a second read of the store; a key the round did
// not keep it for is still read.
import type { PartitionState } from '../../../../infra/stateful/partition-state';
import { emptyRound } from '../../../../infra/stateful/round';
import { storeCommitted, type CommitHooks } from '../../../../infra/stateful/task-commit';
import type { Logger } from '../../../../infra/logging';
import { idleTask } from '../../../support/task-loop';

type S = { readonly n: number };

describe('storing a committed round', () => {
  it('hands the stats and timers each state\'s committed value from the round, reading the store only for a key it did not keep', () => {
    const reads: string[] = [];
    const stored: Array<{ key: string; before: S | undefined; value: string }> = [];
    const state = {
      get: (id: string): S | undefined => {
        reads.push(id);
        return { n: 100 };
      },
      committed: (changes: ReadonlyMap<string, { readonly before: S | undefined; readonly value: Buffer }>) => {
        for (const [key, { before, value }] of changes) stored.push({ key, before, value: value.toString() });
      },
    } as unknown as PartitionState<S>;
    const task = idleTask<S>({ parts: [{ state, parked: new Map() }] });
    const round = emptyRound<S>();
    const changed = (id: string, n: number): void => {
      round.states.set(id, { state: { n }, trace: {}, record: { key: id, value: Buffer.from(`v${n}`), partition: 0 } });
    };
    changed('kept', 2);
    changed('new', 1);
    changed('unkept', 7);
    round.before.set('kept', { n: 1 });
    round.before.set('new', undefined);
    const replaced: Array<[string, S | undefined, S]> = [];
    const hooks: CommitHooks<S> = { log: { error: () => undefined } as unknown as Logger, replaced: (_t, _p, id, before, after) => replaced.push([id, before, after]), unparked: () => undefined };
    storeCommitted(task, [{ changelog: 'c', round, positions: { records: [], sendOffsets: false } }], [1], [42], hooks);
    expect(reads).toEqual(['unkept']);
    expect(stored).toEqual([
      { key: 'kept', before: { n: 1 }, value: 'v2' },
      { key: 'new', before: undefined, value: 'v1' },
      { key: 'unkept', before: { n: 100 }, value: 'v7' },
    ]);
    expect(replaced).toEqual([
      ['kept', { n: 1 }, { n: 2 }],
      ['new', undefined, { n: 1 }],
      ['unkept', { n: 100 }, { n: 7 }],
    ]);
    expect(task.dirty).toBe(false);
  });
});
