import { redriveSelection } from '../../../../consumers/admin-api/app';

describe('the admin API’s redrive selection', () => {
  it('takes exactly one of aggregateId, reason, all: true', () => {
    expect(redriveSelection({ aggregateId: 'order-1', why: 'x' })).toEqual({ aggregateId: 'order-1' });
    expect(redriveSelection({ reason: 'processing-failed' })).toEqual({ reason: 'processing-failed' });
    expect(redriveSelection({ all: true })).toEqual({ all: true });
  });

  it('refuses none, several, empty or mistyped choices with a message saying what to send', () => {
    const refused: Array<[Record<string, unknown>, string]> = [
      [{}, 'give exactly one of aggregateId, reason, all: true'],
      [{ aggregateId: 'order-1', reason: 'processing-failed' }, 'give exactly one of'],
      [{ aggregateId: 'order-1', all: true }, 'give exactly one of'],
      [{ aggregateId: '' }, 'aggregateId must be a non-empty string'],
      [{ aggregateId: 7 }, 'aggregateId must be a non-empty string'],
      [{ reason: ['a'] }, 'reason must be a non-empty string'],
      [{ all: 'yes' }, 'all must be true when given'],
      [{ all: false }, 'all must be true when given'],
    ];
    for (const [body, message] of refused) {
      const result = redriveSelection(body);
      expect([body, result instanceof Error ? result.message : result]).toEqual([body, expect.stringContaining(message)]);
    }
  });
});
