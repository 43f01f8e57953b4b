import { ReadPositions } from '../../../../infra/kafka/read-positions';

const end = (partition: number, low: number, high: number) => ({ partition, offset: String(high), low: String(low), high: String(high) });

describe('read positions', () => {
  it('counts a partition read when its last offset before the end was read, and an empty one always', () => {
    const positions = new ReadPositions();
    const ends = [end(0, 0, 3), end(1, 5, 5)];
    expect(positions.reached(ends)).toBe(false);
    positions.advance(0, 1);
    expect(positions.reached(ends)).toBe(false);
    positions.advance(0, 2);
    expect(positions.reached(ends)).toBe(true);
  });

  it('wakes a waiter the moment the ends are read, and says false when its time is up first', async () => {
    const positions = new ReadPositions();
    const waiting = positions.until([end(0, 0, 2)], 10_000);
    positions.advance(0, 1);
    await expect(waiting).resolves.toBe(true);
    await expect(positions.until([end(0, 0, 9)], 20)).resolves.toBe(false);
    expect([...positions.entries()]).toEqual([[0, 1]]);
  });
});
