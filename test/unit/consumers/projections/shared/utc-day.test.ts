import { civilFromDays, daysFromCivil, formatDay, parseDay, utcDay } from '../../../../../consumers/projections/shared/utc-day';

describe('UTC days without Date', () => {
  it('maps instants to their UTC day, at both edges of the day', () => {
    expect(utcDay(0)).toBe('1970-01-01');
    expect(utcDay(Date.UTC(2024, 1, 29, 0, 0, 0, 0))).toBe('2024-02-29');
    expect(utcDay(Date.UTC(2024, 1, 29, 23, 59, 59, 999))).toBe('2024-02-29');
    expect(utcDay(Date.UTC(2024, 2, 1))).toBe('2024-03-01');
    expect(utcDay(-1)).toBe('1969-12-31');
  });

  it('agrees with Date.UTC for every day of 1999-2101', () => {
    // A fixed, exhaustive range (no randomness): every day across two century rules.
    for (let d = daysFromCivil(1999, 1, 1); d <= daysFromCivil(2101, 12, 31); d += 1) {
      const { year, month, day } = civilFromDays(d);
      expect(Date.UTC(year, month - 1, day) / 86_400_000).toBe(d);
    }
  });

  it('parses only real calendar dates', () => {
    expect(parseDay('2024-02-29')).toBe(daysFromCivil(2024, 2, 29));
    expect(formatDay(parseDay('2000-01-01') ?? -1)).toBe('2000-01-01');
    for (const bad of ['2023-02-29', '2024-13-01', '2024-00-10', '2024-1-01', '24-01-01', '2024-01-32', 'today', '']) {
      expect(parseDay(bad)).toBeNull();
    }
  });
});
