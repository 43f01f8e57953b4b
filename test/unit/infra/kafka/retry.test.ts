import { CLIENT_RETRY, CONSUMER_RETRY, leastRetryWaitMs } from '../../../../infra/kafka/retry';

describe("the role consumers' retries", () => {
  it('outlast a node killed and fenced after 4 s, or a lost active controller, with room to spare (at least 15 s)', () => {
    expect(leastRetryWaitMs({ ...CLIENT_RETRY, ...CONSUMER_RETRY })).toBeGreaterThanOrEqual(15_000);
  });

  it("would not with kafkajs's default of five retries, which ran out 4–6 s after a kill", () => {
    expect(leastRetryWaitMs({ ...CLIENT_RETRY, retries: 5 })).toBeLessThan(6_000);
  });

  it('sums the waits as kafkajs grows them: the first as given, then each times (1 - factor) × multiplier, capped', () => {
    expect(leastRetryWaitMs({ initialRetryTime: 100, maxRetryTime: 300, factor: 0, multiplier: 2, retries: 4 })).toBe(100 + 200 + 300 + 300);
    expect(leastRetryWaitMs({ initialRetryTime: 100, retries: 0 })).toBe(0);
  });
});
