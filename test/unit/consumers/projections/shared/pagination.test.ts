import { PAGE_DEFAULTS, parsePage, rangeFor, toPage } from '../../../../../consumers/projections/shared/pagination';

describe('offset pagination', () => {
  it('defaults to the first page of 20', () => {
    expect(parsePage({})).toEqual({ ok: true, page: { offset: 0, limit: PAGE_DEFAULTS.limit } });
  });

  it.each([
    [{ limit: '0' }, /limit must be between 1 and 100/],
    [{ limit: '101' }, /limit must be between 1 and 100/],
    [{ limit: '2.5' }, /limit must be a whole number/],
    [{ offset: '-1' }, /offset must be a whole number/],
    [{ offset: '10001' }, /offset must be at most 10000/],
    [{ offset: '9'.repeat(400) }, /offset must be at most 10000/],
    [{ limit: '' }, /limit must not be empty/],
    [{ offset: '' }, /offset must not be empty/],
    [{ limit: ['1', '2'] }, /limit must be given at most once/],
    [{ offset: ['', ''] }, /offset must be given at most once/],
    [{ limit: { a: '1' } }, /limit must be a whole number/],
  ])('rejects %j', (query, message) => {
    const result = parsePage(query);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(message);
  });

  it('reads one extra member to know whether a next page exists', () => {
    const page = { offset: 4, limit: 2 };
    expect(rangeFor(page)).toEqual({ start: 4, stop: 6 });
    expect(toPage(['e', 'f', 'g'], page)).toEqual({ items: ['e', 'f'], offset: 4, limit: 2, nextOffset: 6 });
    expect(toPage(['e', 'f'], page)).toEqual({ items: ['e', 'f'], offset: 4, limit: 2, nextOffset: null });
  });
});
