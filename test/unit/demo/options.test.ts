import { DemoUsageError, parseDemoOptions, parseDuration } from '../../../demo/options';

describe('npm run demo options', () => {
  it('default to 60 orders/min, 40 customers, until Ctrl-C, on the ports npm start uses', () => {
    expect(parseDemoOptions([], { PORT: '39000', QUERY_PORT: '39001' })).toEqual({
      seed: 'restaurant',
      ordersPerMinute: 60,
      customers: 40,
      durationMs: undefined,
      gatewayUrl: 'http://127.0.0.1:39000',
      queryUrl: 'http://127.0.0.1:39001',
    });
  });

  it('take flags over the environment', () => {
    const options = parseDemoOptions(['--rate', '120', '--seed', 'friday', '--duration', '10m'], { DEMO_RATE: '5', DEMO_SEED: 'x', DEMO_CUSTOMERS: '7' });
    expect(options).toMatchObject({ ordersPerMinute: 120, seed: 'friday', durationMs: 600_000, customers: 7 });
  });

  it('refuse what they cannot use, saying why', () => {
    expect(() => parseDemoOptions(['--rate', '0'], {})).toThrow(DemoUsageError);
    expect(() => parseDemoOptions(['--customers', '2.5'], {})).toThrow(/whole number/);
    expect(() => parseDemoOptions(['--speed', '2'], {})).toThrow(DemoUsageError);
    expect(() => parseDuration('soon')).toThrow(/30s, 10m or 1h/);
  });

  it('read durations in ms, s, m and h (seconds without a unit)', () => {
    expect([parseDuration('250ms'), parseDuration('90'), parseDuration('1.5m'), parseDuration('1h')]).toEqual([250, 90_000, 90_000, 3_600_000]);
  });
});
