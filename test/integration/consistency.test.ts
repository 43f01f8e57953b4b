/**
 * Read-your-writes on the real Redis: a query waiting for a consistency token
 * is woken by the batch script's checkpoint notification (not by polling:
 * the watcher here polls once a minute), and one whose positions are not
 * reached in time says which are behind.
 */
import { applyBatch, checkpointField, encodeBatch } from '../../consumers/projections/runtime/redis-batch';
import { CheckpointWatcher } from '../../consumers/query-api/consistency';
import { checkpointKey } from '../../consumers/projections/shared/keys';
import { testRedis, unique } from '../support/kafka';
import { dropKeys } from '../support/read-side';
import { waitFor } from '../../infra/wait-for';

const redis = testRedis();
const subscriber = testRedis();
const keyspace = unique('it-consistency').toLowerCase();
const topic = 'restaurant.order.events';

afterAll(async () => {
  await dropKeys(redis, `rm:{${keyspace}}:*`);
  await redis.quit();
});

/** A projector batch on partition 2 that moves the orders checkpoint to `nextOffset`. */
async function checkpointMovesTo(nextOffset: number, expected: number | undefined): Promise<void> {
  const encoded = encodeBatch(keyspace, 'orders', [], new Map([[checkpointField(topic, 2), { nextOffset, expected, consumedUpTo: nextOffset }]]));
  await applyBatch(redis, encoded);
}

describe('waiting for a consistency token', () => {
  const watcher = new CheckpointWatcher(redis, subscriber, 60_000);
  afterAll(() => watcher.close());

  it('answers the moment the projection passes the token, woken by the checkpoint notification', async () => {
    await checkpointMovesTo(5, undefined);
    const started = Date.now();
    const waiting = watcher.waitFor(keyspace, 'orders', [topic], [{ topic, partition: 2, offset: 9 }], 30_000);
    // The watcher listens before the checkpoint moves: its subscription is on the channel.
    const channel = checkpointKey(keyspace, 'orders');
    await waitFor('the watcher to subscribe', async () => (Number((await redis.pubsub('NUMSUB', channel))[1]) > 0 ? true : undefined), 10_000, 20);
    await checkpointMovesTo(8, 5); // not yet: offset 9 is not below 8
    await checkpointMovesTo(10, 8);
    const result = await waiting;
    expect(result).toMatchObject({ reached: true, behind: [] });
    // Well under the watcher's one-minute poll: the notification woke it.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('says which positions are behind when they are not reached in time, and ignores topics the model does not read', async () => {
    const result = await watcher.waitFor(
      keyspace,
      'orders',
      [topic],
      [
        { topic, partition: 2, offset: 99 },
        { topic: 'restaurant.menu.events', partition: 0, offset: 1_000 },
      ],
      300,
    );
    expect(result.reached).toBe(false);
    expect(result.behind).toEqual([{ topic, partition: 2, offset: 99 }]);
    expect(result.waitedMs).toBeGreaterThanOrEqual(300);
  });
});
