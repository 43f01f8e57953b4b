// The roles' Kafka clients retry long enough to ride out a node's failover on
// a cluster (infra/kafka/client.ts): the controller fences a node killed -9
// after broker.session.timeout.ms (4 s, infra/stack/kafka-nodes.ts), longer
// when that node was the active controller (a new one is elected first), and
// only then are its partitions led elsewhere. A consumer whose retries run out
// before crashes, restarts and rejoins, rebalancing every member of its group.
import { CLIENT_RETRY, retryBudgetMs } from '../../../../infra/kafka/client';

it('keeps retrying for at least 12 s, at most 2 s apart', () => {
  expect(retryBudgetMs(CLIENT_RETRY)).toBeGreaterThanOrEqual(12_000);
  expect(CLIENT_RETRY.maxRetryTime).toBeLessThanOrEqual(2_000);
  // kafkajs's default, five retries, gives up after about 5 s of this backoff.
  expect(retryBudgetMs({ ...CLIENT_RETRY, retries: 5 })).toBeLessThan(6_000);
});
