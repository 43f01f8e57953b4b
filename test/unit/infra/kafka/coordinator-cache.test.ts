import type { Kafka } from 'kafkajs';
import { cacheCoordinators, canCacheCoordinators } from '../../../../infra/kafka/coordinator-cache';

// The wrapper's own logic, over a stand-in for kafkajs's private cluster factory
// (the integration test runs it against the real kafkajs and broker).
interface FakeBroker {
  readonly nodeId: number;
  endTxn(): Promise<string>;
  heartbeat(member: { memberId: string }): Promise<string>;
}

function fakeKafka(brokerFor: (lookup: number) => FakeBroker | Error) {
  let lookups = 0;
  const cluster = {
    async findGroupCoordinator(_query: { groupId: string; coordinatorType?: number }): Promise<FakeBroker> {
      lookups += 1;
      const result = brokerFor(lookups);
      if (result instanceof Error) throw result;
      return result;
    },
  };
  const kafka = { [Symbol('private:Kafka:createCluster')]: () => cluster } as unknown as Kafka;
  const create = (): typeof cluster => {
    const symbol = Object.getOwnPropertySymbols(kafka)[0] as symbol;
    const factory = (kafka as unknown as Record<symbol, (() => typeof cluster) | undefined>)[symbol];
    if (factory === undefined) throw new Error('the fake has no factory');
    return factory();
  };
  return { kafka, create, lookups: () => lookups };
}

const kafkaError = (type: string): Error => Object.assign(new Error(type), { type });
const broker = (nodeId: number, fails?: string): FakeBroker => ({
  nodeId,
  endTxn: () => (fails ? Promise.reject(kafkaError(fails)) : Promise.resolve('ok')),
  heartbeat: ({ memberId }) => (fails ? Promise.reject(fails === 'ECONNREFUSED' ? Object.assign(new Error('connect ECONNREFUSED'), { name: 'KafkaJSConnectionError', code: 'ECONNREFUSED' }) : kafkaError(fails)) : Promise.resolve(`${memberId} heartbeat on ${nodeId}`)),
});

const query = { groupId: 'restaurant.command-processor.p0', coordinatorType: 1 };

describe('coordinator cache', () => {
  it('answers a repeated lookup from memory until the entry is older than its time to live', async () => {
    let now = 0;
    const fake = fakeKafka((n) => broker(n));
    cacheCoordinators(fake.kafka, { ttlMs: 1_000, now: () => now });
    const cluster = fake.create();
    const a = await cluster.findGroupCoordinator(query);
    const b = await cluster.findGroupCoordinator(query);
    expect([a.nodeId, b.nodeId, fake.lookups()]).toEqual([1, 1, 1]);
    await expect(a.endTxn()).resolves.toBe('ok'); // calls reach the real broker
    now = 1_000;
    expect((await cluster.findGroupCoordinator(query)).nodeId).toBe(2);
  });

  it('forgets a coordinator as soon as a call through it says it is not the coordinator', async () => {
    const fake = fakeKafka((n) => broker(n, n === 1 ? 'NOT_COORDINATOR_FOR_GROUP' : undefined));
    cacheCoordinators(fake.kafka, { ttlMs: 60_000, now: () => 0 });
    const cluster = fake.create();
    const stale = await cluster.findGroupCoordinator(query);
    await expect(stale.endTxn()).rejects.toThrow('NOT_COORDINATOR_FOR_GROUP');
    const fresh = await cluster.findGroupCoordinator(query);
    expect(fresh.nodeId).toBe(2);
    await expect(fresh.endTxn()).resolves.toBe('ok');
  });

  it('keeps a coordinator whose call failed for another reason (a transaction still being completed)', async () => {
    const fake = fakeKafka((n) => broker(n, 'CONCURRENT_TRANSACTIONS'));
    cacheCoordinators(fake.kafka, { ttlMs: 60_000, now: () => 0 });
    const cluster = fake.create();
    await expect((await cluster.findGroupCoordinator(query)).endTxn()).rejects.toThrow('CONCURRENT_TRANSACTIONS');
    expect((await cluster.findGroupCoordinator(query)).nodeId).toBe(1);
    expect(fake.lookups()).toBe(1);
  });

  it('does not remember a failed lookup', async () => {
    const fake = fakeKafka((n) => (n === 1 ? new Error('COORDINATOR_NOT_AVAILABLE') : broker(n)));
    cacheCoordinators(fake.kafka, { now: () => 0 });
    const cluster = fake.create();
    await expect(cluster.findGroupCoordinator(query)).rejects.toThrow('COORDINATOR_NOT_AVAILABLE');
    expect((await cluster.findGroupCoordinator(query)).nodeId).toBe(2);
  });

  it("sends a group member's heartbeat that met a dead coordinator to the one looked up afresh, and its next heartbeats too", async () => {
    // Node 1 was the group's coordinator and died; the lookup after it names node 2.
    const fake = fakeKafka((n) => broker(n, n === 1 ? 'ECONNREFUSED' : undefined));
    cacheCoordinators(fake.kafka, { now: () => 0 });
    const cluster = fake.create();
    const coordinator = await cluster.findGroupCoordinator({ groupId: 'restaurant.command-processor' }); // what kafkajs keeps from the join
    await expect(coordinator.heartbeat({ memberId: 'm-1' })).resolves.toBe('m-1 heartbeat on 2');
    await expect(coordinator.heartbeat({ memberId: 'm-1' })).resolves.toBe('m-1 heartbeat on 2');
    expect(coordinator.nodeId).toBe(2);
    expect(fake.lookups()).toBe(2);
  });

  it('fails the heartbeat as before when no coordinator is found, and re-sends nothing but heartbeats', async () => {
    const fake = fakeKafka((n) => (n === 1 ? broker(1, 'NOT_COORDINATOR_FOR_GROUP') : new Error('COORDINATOR_NOT_AVAILABLE')));
    cacheCoordinators(fake.kafka, { now: () => 0 });
    const cluster = fake.create();
    const group = await cluster.findGroupCoordinator({ groupId: 'g' });
    await expect(group.heartbeat({ memberId: 'm-1' })).rejects.toThrow('NOT_COORDINATOR_FOR_GROUP');
    // A transaction's coordinator is not followed: its calls are not re-sent (kafkajs retries them with a new lookup).
    const transactions = fakeKafka((n) => broker(n, n === 1 ? 'ECONNREFUSED' : undefined));
    cacheCoordinators(transactions.kafka, { now: () => 0 });
    const txCoordinator = await transactions.create().findGroupCoordinator(query);
    await expect(txCoordinator.heartbeat({ memberId: 'p' })).rejects.toThrow('ECONNREFUSED');
    expect(transactions.lookups()).toBe(1);
  });

  it('leaves a client it cannot find the factory of as it is', () => {
    const plain = {} as Kafka;
    expect(canCacheCoordinators(plain)).toBe(false);
    expect(cacheCoordinators(plain)).toBe(plain);
  });
});
