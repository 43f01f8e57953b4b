// The lag report of changelog positions with the decoupled fetch
// (infra/stateful/lag-report.ts): the group is told each task's committed
// positions, never what is only fetched or decided in a round not committed
// yet; only what moved; a report that fails is made again.
import { rootLogger } from '../../../../infra/logging';
import { LagReport, toReport, type ReportedOffset } from '../../../../infra/stateful/lag-report';
import type { Task } from '../../../../infra/stateful/task';
import { idleTask } from '../../../support/task-loop';

const log = rootLogger.child({}, { level: 'silent' });

describe('toReport', () => {
  it('reports the committed positions, not how far the task has read or what waits in a flush', () => {
    const task = idleTask({ partition: 3, committed: new Map([['in', 10]]), positions: new Map([['in', 250]]), pendingOffsets: new Map([['in', 12]]) });
    expect(toReport([task], new WeakMap())).toEqual([{ topic: 'in', partition: 3, offset: '10' }]);
  });

  it('leaves out what was reported already, and tasks retired or fenced', () => {
    const task = idleTask({ partition: 0, committed: new Map([['a', 5], ['b', 7]]) });
    const reported = new WeakMap<Task<unknown>, Map<string, number>>([[task, new Map([['a', 5], ['b', 6]])]]);
    expect(toReport([task], reported)).toEqual([{ topic: 'b', partition: 0, offset: '7' }]);
    expect(toReport([idleTask({ committed: new Map([['a', 1]]), retired: true }), idleTask({ committed: new Map([['a', 1]]), fenced: true })], new WeakMap())).toEqual([]);
  });
});

describe('LagReport', () => {
  it('commits what moved since its last report, again after a failed commit, and what is left at stop', async () => {
    const task = idleTask({ partition: 1, committed: new Map([['in', 4]]) });
    const commits: Array<readonly ReportedOffset[]> = [];
    let failNext = false;
    const report = new LagReport({
      log,
      tasks: () => [task],
      commit: (offsets) => {
        if (failNext) {
          failNext = false;
          return Promise.reject(new Error('a rebalance in progress'));
        }
        commits.push(offsets);
        return Promise.resolve();
      },
    });
    await report.report();
    await report.report(); // nothing moved
    expect(commits).toEqual([[{ topic: 'in', partition: 1, offset: '4' }]]);

    task.committed.set('in', 9);
    failNext = true;
    await report.report();
    expect(commits).toHaveLength(1);
    await report.report(); // the failed one again
    expect(commits[1]).toEqual([{ topic: 'in', partition: 1, offset: '9' }]);

    // At stop, the last commits (a flush of rounds that wrote nothing) run first, then their positions are reported.
    await report.stop(async () => {
      task.committed.set('in', 11);
    });
    expect(commits[2]).toEqual([{ topic: 'in', partition: 1, offset: '11' }]);
  });
});
