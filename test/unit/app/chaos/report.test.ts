import type { LedgerEntry } from '../../../../app/chaos/client';
import { clientFigures, withClientView } from '../../../../app/chaos/report';

const entry = (status: number, answeredAt: number, retriedOn: string[] = []): LedgerEntry => ({
  key: `k${answeredAt}`,
  route: 'POST /orders',
  subject: 's',
  status,
  attempts: retriedOn.length + 1,
  retriedOn,
  sentAt: answeredAt - 100,
  answeredAt,
});

describe('the report', () => {
  it('counts 2xx answers while a fault was out and the longest stretch without one', () => {
    const ledger = [entry(200, 1_000), entry(200, 12_000), entry(503, 13_000), entry(201, 15_000), entry(200, 40_000)];
    const [fault] = withClientView([{ kind: 'leader-kill', injectedAt: 10_000, backAt: 20_000, readyAfterMs: 1_000, serving2xxAfterMs: 4_000 }], ledger);
    expect(fault?.accepted2xxWhileOut).toBe(2);
    // 10 s → 12 s → 15 s → 24 s (back + the 2xx recovery): the last stretch is the longest.
    expect(fault?.longestNo2xxMs).toBe(9_000);
  });

  it('sorts what the clients saw after retries into decided, refused and undecided', () => {
    const figures = clientFigures([entry(200, 1, ['503', 'connection']), entry(409, 2), entry(503, 3), entry(0, 4), entry(202, 5)]);
    expect(figures.retried).toBe(1);
    expect(figures.retriesByCause).toEqual({ '503': 1, connection: 1 });
    expect(figures.failuresByCause).toEqual({ '503': 1, 'no answer': 1, '202 (pending)': 1 });
    expect(figures.refusalsByCode).toEqual({ '409': 1 });
  });
});
