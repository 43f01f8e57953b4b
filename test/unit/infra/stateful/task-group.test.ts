// Task groups (infra/stateful/task-group.ts; docs/stateful-runtime.md "Task groups"): the ids, and the
// shared transaction of a group's tasks against fake producers that record what the broker would be asked.
import type { Kafka, Producer } from 'kafkajs';
import { rootLogger } from '../../../../infra/logging';
import { BEGIN_WAIT_MS, groupTransactionalId, otherSizeIds, TaskGroups } from '../../../../infra/stateful/task-group';

interface FakeProducer {
  readonly id: string;
  readonly events: string[];
}

/** A Kafka whose producers log `<id> begin|send <topic>|commit|abort|disconnect`, and whose commits fail while `failCommits`. */
function fakeKafka(): { kafka: Kafka; log: string[]; made: FakeProducer[]; failCommits: { on: boolean } } {
  const log: string[] = [];
  const made: FakeProducer[] = [];
  const failCommits = { on: false };
  const kafka = {
    producer: ({ transactionalId }: { transactionalId: string }) => {
      const p: FakeProducer = { id: transactionalId, events: [] };
      made.push(p);
      const note = (what: string): void => {
        log.push(`${transactionalId} ${what}`);
        p.events.push(what);
      };
      return {
        connect: () => Promise.resolve(),
        disconnect: () => (note('disconnect'), Promise.resolve()),
        transaction: () => {
          note('begin');
          return Promise.resolve({
            sendBatch: ({ topicMessages }: { topicMessages: Array<{ topic: string }> }) => (note(`send ${topicMessages[0]?.topic ?? ''}`), Promise.resolve([])),
            sendOffsets: () => Promise.resolve(),
            commit: () => (failCommits.on ? (note('commit failed'), Promise.reject(new Error('commit failed'))) : (note('commit'), Promise.resolve())),
            abort: () => (note('abort'), Promise.resolve()),
          });
        },
      } as unknown as Producer;
    },
  } as unknown as Kafka;
  return { kafka, log, made, failCommits };
}

const logger = rootLogger.child({ test: 'task-group' });
logger.level = 'silent';

describe('task group ids', () => {
  it('are the command processor worker ids: <prefix><p> for k = 1, <prefix><first>-<last> above', () => {
    expect(groupTransactionalId('g.p', 1, 4)).toBe('g.p4');
    expect(groupTransactionalId('g.p', 3, 1)).toBe('g.p3-5');
    expect(groupTransactionalId('g.p', 6, 0)).toBe('g.p0-5');
  });

  it('of other sizes: every id a group of another size up to the partition count gives the members', () => {
    expect(otherSizeIds('g.', 2, 4, [2, 3]).sort()).toEqual(['g.0-2', 'g.0-3', 'g.2', 'g.3', 'g.3-5'].sort());
    expect(otherSizeIds('g.', 1, 3, [1])).toEqual(['g.0-1', 'g.0-2']);
  });
});

describe('the shared transaction of a group', () => {
  it('fences the other sizes first, then one transaction for the rounds of every task that joined it, committed once all asked', async () => {
    const { kafka, log } = fakeKafka();
    const groups = new TaskGroups({ kafka, log: logger, prefix: 'g.', k: 2, partitions: 2, fenceOtherSizes: true });
    const [a, b] = await Promise.all([groups.producerFor(0), groups.producerFor(1)]);
    expect(log.filter((l) => l.endsWith('begin')).map((l) => l.split(' ')[0]).sort()).toEqual(['g.0', 'g.0-1', 'g.1']);
    log.length = 0;
    const [ta, tb] = await Promise.all([a?.transaction(), b?.transaction()]);
    await ta?.sendBatch({ topicMessages: [{ topic: 'x', messages: [] }] });
    let aCommitted = false;
    const aCommit = ta?.commit().then(() => (aCommitted = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(aCommitted).toBe(false); // b has not asked yet
    await tb?.sendBatch({ topicMessages: [{ topic: 'y', messages: [] }] });
    await Promise.all([aCommit, tb?.commit()]);
    expect(log).toEqual(['g.0-1 begin', 'g.0-1 send x', 'g.0-1 send y', 'g.0-1 commit']);
    expect(groups.transactions).toBe(1);
  });

  it('a round that aborts dooms the others in its transaction; the group fences again before the next one', async () => {
    const { kafka, log, made } = fakeKafka();
    const groups = new TaskGroups({ kafka, log: logger, prefix: 'g.', k: 2, partitions: 2, fenceOtherSizes: false });
    const a = await groups.producerFor(0);
    const b = await groups.producerFor(1);
    const [ta, tb] = await Promise.all([a.transaction(), b.transaction()]);
    const bCommit = tb.commit();
    await ta.abort();
    await expect(bCommit).rejects.toThrow(/aborted/);
    expect(log.filter((l) => !l.endsWith('begin'))).toEqual(['g.0-1 abort', 'g.0-1 abort']); // the fence's, then the shared one's
    // The next transaction (or a restore's producerFor) gets a new producer: fenced again.
    const next = await a.transaction();
    await next.commit();
    expect(made.map((p) => p.id)).toEqual(['g.0-1', 'g.0-1']);
    expect(made[0]?.events.at(-1)).toBe('disconnect');
    expect(made[1]?.events.slice(-2)).toEqual(['begin', 'commit']);
    expect(groups.transactions).toBe(1);
  });

  it('a failed commit fails every round in it; rounds ready meanwhile wait for the next transaction', async () => {
    const { kafka, failCommits, made } = fakeKafka();
    const groups = new TaskGroups({ kafka, log: logger, prefix: 'g.', k: 2, partitions: 2, fenceOtherSizes: false });
    const a = await groups.producerFor(0);
    const b = await groups.producerFor(1);
    failCommits.on = true;
    const ta = await a.transaction();
    const aCommit = ta.commit();
    const later = b.transaction(); // opened while the first one commits: begun only after it
    await expect(aCommit).rejects.toThrow('commit failed');
    failCommits.on = false;
    const tb = await later;
    await tb.commit();
    expect(made).toHaveLength(2); // fenced again after the failure
    expect(made[1]?.events).toEqual(['begin', 'abort', 'begin', 'commit']);
  });

  it('takes no more rounds once begun: a round ready later goes into the next transaction, not holding up this one', async () => {
    const { kafka, log } = fakeKafka();
    const groups = new TaskGroups({ kafka, log: logger, prefix: 'g.', k: 2, partitions: 2, fenceOtherSizes: false });
    const a = await groups.producerFor(0);
    const b = await groups.producerFor(1);
    log.length = 0;
    const ta = await a.transaction();
    await ta.sendBatch({ topicMessages: [{ topic: 'x', messages: [] }] });
    const later = b.transaction(); // ready while a's transaction sends
    await ta.commit(); // a alone was in it: committed without waiting for b
    const tb = await later;
    await tb.sendBatch({ topicMessages: [{ topic: 'y', messages: [] }] });
    await tb.commit();
    expect(log).toEqual(['g.0-1 begin', 'g.0-1 send x', 'g.0-1 commit', 'g.0-1 begin', 'g.0-1 send y', 'g.0-1 commit']);
    expect(groups.transactions).toBe(2);
  });

  it('begins once no task is deciding a round: a round decided a little later rides in the same transaction', async () => {
    const { kafka, log } = fakeKafka();
    const groups = new TaskGroups({ kafka, log: logger, prefix: 'g.', k: 2, partitions: 2, fenceOtherSizes: false });
    const [a, b] = await Promise.all([groups.producerFor(0), groups.producerFor(1)]);
    log.length = 0;
    a.deciding?.(true);
    b.deciding?.(true);
    const joinedA = a.transaction();
    await new Promise((resolve) => setImmediate(resolve));
    expect(log).toEqual([]); // b is still deciding
    const [ta, tb] = await Promise.all([joinedA, b.transaction()]);
    await ta.sendBatch({ topicMessages: [{ topic: 'x', messages: [] }] });
    await tb.sendBatch({ topicMessages: [{ topic: 'y', messages: [] }] });
    await Promise.all([ta.commit(), tb.commit()]);
    expect(log).toEqual(['g.0-1 begin', 'g.0-1 send x', 'g.0-1 send y', 'g.0-1 commit']);
    expect(groups.transactions).toBe(1);
  });

  it(`waits at most BEGIN_WAIT_MS (${BEGIN_WAIT_MS} ms) for a round being decided; a round over with nothing to write waits for none`, async () => {
    const { kafka, log } = fakeKafka();
    const groups = new TaskGroups({ kafka, log: logger, prefix: 'g.', k: 2, partitions: 2, fenceOtherSizes: false });
    const [a, b] = await Promise.all([groups.producerFor(0), groups.producerFor(1)]);
    log.length = 0;
    b.deciding?.(true); // and never joins
    a.deciding?.(true);
    const t0 = performance.now();
    const ta = await a.transaction();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(BEGIN_WAIT_MS - 1);
    await ta.commit();
    b.deciding?.(false); // its round wrote nothing
    a.deciding?.(true);
    const joined = a.transaction();
    const waited = await Promise.race([joined.then(() => 'began'), new Promise((resolve) => setImmediate(() => resolve('waiting')))]);
    expect(waited).toBe('began');
    await (await joined).commit();
    expect(log).toEqual(['g.0-1 begin', 'g.0-1 commit', 'g.0-1 begin', 'g.0-1 commit']);
  });

  it("fences each other size's id once, however many groups share it", async () => {
    const { kafka, made } = fakeKafka();
    const groups = new TaskGroups({ kafka, log: logger, prefix: 'g.', k: 1, partitions: 2, fenceOtherSizes: true });
    await Promise.all([groups.producerFor(0), groups.producerFor(1)]);
    expect(made.map((p) => p.id).sort()).toEqual(['g.0', 'g.0-1', 'g.1']);
  });

  it('lets go of the producer when its last task does', async () => {
    const { kafka, made } = fakeKafka();
    const groups = new TaskGroups({ kafka, log: logger, prefix: 'g.', k: 2, partitions: 2, fenceOtherSizes: false });
    const a = await groups.producerFor(0);
    const b = await groups.producerFor(1);
    await a.disconnect();
    expect(made[0]?.events).not.toContain('disconnect');
    await b.disconnect();
    expect(made[0]?.events.at(-1)).toBe('disconnect');
  });
});
