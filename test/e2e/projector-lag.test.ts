/**
 * A projector role (a real process) that has caught up shows a lag of 0 on an
 * events topic, whose partitions end with the command processor's commit
 * markers: in its restaurant_consumer_lag_messages, in the group's committed
 * offsets and in Kafka's kafka-consumer-groups. Also when started again with
 * the group's offsets at its Redis checkpoints (one short of the end, the
 * state a restart's seek leaves) and after kill -9.
 */
import type Redis from 'ioredis';
import { projectionGroupId } from '../../consumers/projections/runtime/read-models';
import { parseCheckpoint } from '../../consumers/projections/runtime/redis-batch';
import { checkpointKey } from '../../consumers/projections/shared/keys';
import { topicName } from '../../schemas/topics';
import { testKafka, testRedis, unique, withAdmin } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';
import { groupPositions, lagFromConsumerGroups, lagFromMetrics } from '../support/lag';
import { smallLoad } from '../support/operations';
import { dropKeys } from '../support/read-side';
import { startRole, type RoleProcess } from '../../app/chaos/role-process';

jest.setTimeout(300_000);

const kafka = testKafka('e2e-projector-lag');
const keyspace = unique('lag').toLowerCase();
const env = { READ_MODEL_KEYSPACE: keyspace };
const TOPIC = topicName('menu', 'events');
const group = projectionGroupId('menu', keyspace);
const roles: RoleProcess[] = [];
let redis: Redis;

beforeAll(async () => {
  redis = testRedis();
  await redis.connect();
});

afterAll(async () => {
  await Promise.all(roles.map((r) => r.stop().catch(() => null)));
  await dropKeys(redis, `rm:{${keyspace}}:*`);
  await redis.quit();
});

async function startProjector(): Promise<RoleProcess> {
  const role = await startRole('projector:menu', env);
  roles.push(role);
  return role;
}

/** Waits until the role's metric and the group's offsets read a lag of 0 on every partition; then asks Kafka's tool. */
async function expectZeroLag(projector: RoleProcess, what: string): Promise<void> {
  const partitions = (await groupPositions(kafka, group, TOPIC)).size;
  await waitFor(
    `a lag of 0 ${what}`,
    async () => {
      const lag = lagFromMetrics(await (await fetch(`${projector.opsUrl}/metrics`)).text(), group, TOPIC);
      const positions = await groupPositions(kafka, group, TOPIC);
      const zero = lag.size === partitions && [...lag.values()].every((v) => v === 0) && [...positions.values()].every((p) => p.committed === p.end);
      return zero ? true : undefined;
    },
    20_000,
  );
  expect(lagFromConsumerGroups(group, TOPIC)).toEqual(new Map(Array.from({ length: partitions }, (_, p): [number, string] => [p, '0'])));
}

describe('a projector role on an events topic written in transactions', () => {
  it('shows a lag of 0 once caught up, when started again one short of the end, and after kill -9', async () => {
    const commands = await startRole('commands', env);
    roles.push(commands);
    await smallLoad(commands.url, unique('lag'), 4, 0);

    let projector = await startProjector();
    await expectZeroLag(projector, 'once caught up');
    expect(await projector.stop()).toBe(0);
    roles.splice(roles.indexOf(projector), 1);

    // The group's offsets at the checkpoints: where a restart's seek puts them, a commit marker short of the end.
    const checkpoints = parseCheckpoint(await redis.hgetall(checkpointKey(keyspace, 'menu'))).get(TOPIC) ?? new Map<number, number>();
    const positions = await groupPositions(kafka, group, TOPIC);
    const markerEnded = [...positions].filter(([p, { end }]) => end > 0 && checkpoints.get(p) === end - 1).map(([p]) => p);
    expect(markerEnded.length).toBeGreaterThan(0);
    await withAdmin(kafka, (admin) => admin.setOffsets({ groupId: group, topic: TOPIC, partitions: markerEnded.map((p) => ({ partition: p, offset: String(checkpoints.get(p)) })) }));

    projector = await startProjector();
    await expectZeroLag(projector, 'started again one short of the end');

    await projector.kill();
    roles.splice(roles.indexOf(projector), 1);
    projector = await startProjector();
    await expectZeroLag(projector, 'after kill -9 and a restart');
  });
});
