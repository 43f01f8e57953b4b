// The replay tool's pure parts: what --to and a group name mean, the progress
// numbers and how they are shown, and how blue/green keyspaces are named.
import { duration, progressLine, ReplayProgress } from '../../../../../consumers/projections/replay/progress';
import { parseGroup, parseTarget, ReplayError } from '../../../../../consumers/projections/replay/replay';
import { baseOf, rebuildKeyspace } from '../../../../../consumers/projections/runtime/serving';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);

describe('--to', () => {
  it('takes earliest, an offset, a date or a date and time', () => {
    expect(parseTarget('earliest', NOW)).toEqual({ kind: 'earliest' });
    expect(parseTarget('1200', NOW)).toEqual({ kind: 'offset', offset: 1200 });
    expect(parseTarget('2025-01-14', NOW)).toEqual({ kind: 'time', at: Date.UTC(2025, 0, 14) });
    expect(parseTarget('2025-01-15T11:30:00Z', NOW)).toEqual({ kind: 'time', at: Date.UTC(2025, 0, 15, 11, 30) });
    expect(parseTarget('2025-01-15T12:30:00+02:00', NOW)).toEqual({ kind: 'time', at: Date.UTC(2025, 0, 15, 10, 30) });
  });

  it.each([
    [undefined, /--to is required/],
    ['latest', /is not earliest, an ISO-8601 time .* or an offset/],
    ['-5', /is not earliest/],
    ['2025-13-45', /is not earliest/],
    ['yesterday', /is not earliest/],
    ['2025-01-16', /is in the future/],
    ['99999999999999999999', /too large/],
  ])('refuses %p as bad input', (raw, message) => {
    expect(() => parseTarget(raw, NOW)).toThrow(message);
    try {
      parseTarget(raw, NOW);
    } catch (error) {
      expect((error as ReplayError).exitCode).toBe(2);
    }
  });
});

describe('consumer group names', () => {
  it('names a read model and its keyspace', () => {
    expect(parseGroup('restaurant.projection.orders')).toEqual({ model: 'orders', keyspace: 'live' });
    expect(parseGroup('restaurant.projection.sales.live-g3')).toEqual({ model: 'sales', keyspace: 'live-g3' });
  });

  it.each([
    ['restaurant.command-processor', /not a read model’s group/],
    ['restaurant.projection.pizzas', /no read model "pizzas"/],
    ['restaurant.projection.menu.Not_Valid', /keyspace "Not_Valid"/],
    ['restaurant.projection.menu.live', /group is restaurant\.projection\.menu$|group is restaurant\.projection\.menu\./],
  ])('refuses %s, listing the groups it takes', (group, why) => {
    expect(() => parseGroup(group)).toThrow(why);
    expect(() => parseGroup(group)).toThrow(/restaurant\.projection\.<menu\|customers\|orders\|kitchen\|sales>\[\.<keyspace>\]/);
  });
});

describe('blue/green keyspaces', () => {
  it('are named after the base and lead back to it', () => {
    expect(rebuildKeyspace('live', 4)).toBe('live-g4');
    expect(baseOf('live-g4')).toBe('live');
    expect(baseOf('live')).toBe('live');
    expect(() => rebuildKeyspace('a'.repeat(30), 12)).toThrow(/keyspace/);
  });
});

describe('replay progress', () => {
  const spans = new Map([
    ['t:0', { start: 0, end: 600 }],
    ['t:1', { start: 100, end: 500 }],
    ['t:2', { start: 50, end: 50 }],
  ]);

  it('counts offsets between start and end, the rate over the recent window, and the ETA', () => {
    const progress = new ReplayProgress(spans, NOW, 5_000);
    expect(progress.snapshot(NOW)).toMatchObject({ done: 0, total: 1000, ratio: 0, eventsPerSecond: 0, etaSeconds: undefined, caughtUp: false });
    progress.update('t:0', 300, 280);
    progress.update('t:1', 300, 190);
    progress.update('elsewhere:0', 999, 999); // not part of the replay
    const half = progress.snapshot(NOW + 2_000);
    expect(half).toMatchObject({ done: 500, ratio: 0.5, eventsPerSecond: 235, etaSeconds: 2, caughtUp: false, events: 470 });
    progress.update('t:0', 700, 290); // past the end it set out to reach: counts up to it
    progress.update('t:1', 500, 195);
    expect(progress.snapshot(NOW + 4_000)).toMatchObject({ done: 1000, ratio: 1, etaSeconds: 0, caughtUp: true, elapsedSeconds: 4 });
  });

  it('is caught up at once when there is nothing to read', () => {
    const empty = new ReplayProgress(new Map([['t:0', { start: 7, end: 7 }]]), NOW);
    expect(empty.snapshot(NOW)).toMatchObject({ total: 0, ratio: 1, caughtUp: true });
  });

  it('shows a bar, the percentage, offsets, events/s and the ETA', () => {
    const progress = new ReplayProgress(spans, NOW);
    progress.update('t:0', 400, 400);
    expect(progress.snapshot(NOW + 4_000)).toMatchObject({ ratio: 0.4 });
    expect(progressLine(progress.snapshot(NOW + 4_000), 10)).toBe('[####------]  40.0%  400/1,000 offsets  100 events/s  ETA 6s');
    progress.update('t:0', 600, 200);
    progress.update('t:1', 500, 400);
    expect(progressLine(progress.snapshot(NOW + 5_000), 10)).toMatch(/^\[##########\] 100\.0% {2}1,000\/1,000 offsets {2}\d[\d,]* events\/s {2}caught up$/);
  });

  it('writes durations the way people read them', () => {
    expect(duration(4.4)).toBe('4s');
    expect(duration(185)).toBe('3m05s');
    expect(duration(3725)).toBe('1h02m');
  });
});
