// A collection feed's bookkeeping (consumers/query-api/live/feed.ts): which
// reads are changes, how they are numbered, which Last-Event-IDs resume, and
// what a subscriber that fell behind the kept history is told.
import pino from 'pino';
import { CollectionFeed, type FeedDeps } from '../../../../../consumers/query-api/live/feed';
import { waitFor } from '../../../../../infra/wait-for';

interface Row {
  readonly id: string;
  readonly v: number;
}

function feedOver(rows: { current: Row[] }, overrides: Partial<FeedDeps> = {}): { feed: CollectionFeed<Row>; closed: () => boolean } {
  let closed = false;
  const feed = new CollectionFeed<Row>(
    { model: 'kitchen', read: async () => rows.current, idOf: (r) => r.id },
    {
      servingIfWhole: async () => 'ks',
      listen: async () => () => undefined,
      logger: pino({ level: 'silent' }),
      historySize: 3,
      pollMs: 3_600_000,
      idleMs: 3_600_000,
      onClosed: () => {
        closed = true;
      },
      ...overrides,
    },
  );
  return { feed, closed: () => closed };
}

describe('CollectionFeed', () => {
  it('starts from its first read, and numbers each read that differs as one change of upserts and removals', async () => {
    const rows = { current: [{ id: 'a', v: 1 }, { id: 'b', v: 1 }] };
    const { feed } = feedOver(rows);
    expect(await feed.start()).toBe(true);
    expect(feed.current).toEqual({ seq: 0, items: rows.current });
    await feed.sync();
    expect(feed.current.seq).toBe(0); // the same again is no change
    rows.current = [{ id: 'a', v: 2 }, { id: 'c', v: 1 }];
    await feed.sync();
    expect(feed.current.seq).toBe(1);
    expect(feed.changeAt(1)).toMatchObject({ seq: 1, upserted: [{ id: 'a', v: 2 }, { id: 'c', v: 1 }], removed: ['b'] });
    feed.close();
  });

  it('resumes only its own ids within the kept changes; anything else is a snapshot', async () => {
    const rows = { current: [{ id: 'a', v: 0 }] };
    const { feed } = feedOver(rows);
    await feed.start();
    for (let v = 1; v <= 5; v += 1) {
      rows.current = [{ id: 'a', v }];
      await feed.sync();
    }
    // Five changes, three kept (3, 4, 5): resuming after 2, 3, 4 or 5 works; after 1 the change 2 is gone.
    expect([1, 2, 3, 4, 5].map((n) => feed.resumeSeq(feed.idOf(n)))).toEqual([null, 2, 3, 4, 5]);
    expect(feed.changeAt(2)).toBeUndefined();
    expect(feed.resumeSeq(feed.idOf(6))).toBeNull(); // not yet happened
    expect(feed.resumeSeq(`other.${3}`)).toBeNull(); // another feed's (or instance's) id
    expect(feed.resumeSeq('garbage')).toBeNull();
    const other = feedOver(rows).feed;
    expect(other.epoch).not.toBe(feed.epoch);
    feed.close();
    other.close();
  });

  it('notifies its subscribers of a change and ends them when the model stops being whole', async () => {
    const rows = { current: [{ id: 'a', v: 0 }] };
    let whole = true;
    const { feed, closed } = feedOver(rows, { servingIfWhole: async () => (whole ? 'ks' : undefined) });
    await feed.start();
    const seen: string[] = [];
    feed.subscribe({ notify: () => seen.push(`change ${feed.current.seq}`), end: () => seen.push('end') });
    rows.current = [];
    await feed.sync();
    whole = false;
    await feed.sync();
    expect(seen).toEqual(['change 1', 'end']);
    expect(closed()).toBe(true);
    expect(feed.isClosed).toBe(true);
  });

  it('closes once its last subscriber has been gone for its idle time', async () => {
    const { feed, closed } = feedOver({ current: [] }, { idleMs: 10 });
    await feed.start();
    const unsubscribe = feed.subscribe({ notify: () => undefined, end: () => undefined });
    expect(closed()).toBe(false);
    unsubscribe();
    await expect(waitFor('the idle feed to close', () => (closed() ? true : undefined), 2_000, 5)).resolves.toBe(true);
  });
});
