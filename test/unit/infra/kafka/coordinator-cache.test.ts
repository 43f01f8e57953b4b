import type { Kafka } from 'kafkajs';
import { cacheCoordinators, canCacheCoordinators } from '../../../../infra/kafka/coordinator-cache';

// The wrapper's own logic, over a stand-in for kafkajs's private cluster factory
// (the integration test runs it against the real kafkajs and broker).
interface FakeBroker {
  readonly nodeId: number;
  endTxn(): Promise<string>;
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

  it('leaves a client it cannot find the factory of as it is', () => {
    const plain = {} as Kafka;
    expect(canCacheCoordinators(plain)).toBe(false);
    expect(cacheCoordinators(plain)).toBe(plain);
  });
});
