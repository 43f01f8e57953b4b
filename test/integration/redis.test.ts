import { testRedis, unique } from '../support/kafka';

describe('the local Redis', () => {
  const redis = testRedis();
  afterAll(() => redis.quit());

  it('round-trips a hash and a transaction', async () => {
    const key = unique('it:redis');
    const [[, setResult], [, count]] = (await redis.multi().hset(key, { name: 'Margherita', priceMinor: '950' }).hlen(key).exec()) as [
      [Error | null, unknown],
      [Error | null, unknown],
    ];
    expect(setResult).toBe(2);
    expect(count).toBe(2);
    expect(await redis.hgetall(key)).toEqual({ name: 'Margherita', priceMinor: '950' });
    expect(await redis.del(key)).toBe(1);
    expect(await redis.exists(key)).toBe(0);
  });
});
