import { planRestore, STORE_FORMAT, staleFoldMessage, type StoreIdentity, type StoreMeta } from '../../../../infra/state/restore-plan';

const identity: StoreIdentity = { topic: 'restaurant.orders.snapshots', partition: 3, epoch: 'e1', foldVersion: 2 };
const meta = (over: Partial<StoreMeta> = {}): StoreMeta => ({ format: STORE_FORMAT, topic: identity.topic, partition: 3, epoch: 'e1', foldVersion: 2, offset: 500, ...over });
const log = { low: 0, high: 900 };

describe('planRestore', () => {
  it('restores only the delta past the offset a matching store reflects', () => {
    expect(planRestore({ kind: 'present', meta: meta() }, identity, log)).toEqual({ kind: 'restore', from: 500 });
  });

  it('restores nothing more when the store reflects the end of the log', () => {
    expect(planRestore({ kind: 'present', meta: meta({ offset: 900 }) }, identity, log)).toEqual({ kind: 'restore', from: 900 });
  });

  it('rebuilds a missing or damaged store', () => {
    expect(planRestore({ kind: 'missing' }, identity, log)).toMatchObject({ kind: 'rebuild', reason: 'missing' });
    expect(planRestore({ kind: 'damaged', detail: 'bad page' }, identity, log)).toEqual({ kind: 'rebuild', reason: 'damaged', detail: 'bad page' });
  });

  it('rebuilds a store of another format, partition, topic or changelog epoch', () => {
    expect(planRestore({ kind: 'present', meta: meta({ format: STORE_FORMAT + 1 }) }, identity, log)).toMatchObject({ kind: 'rebuild', reason: 'format' });
    // Format 2 stores keep no trace beside their states, format 3 stores are keyed WITHOUT ROWID tables: rebuilt from the changelog.
    expect(STORE_FORMAT).toBe(4);
    expect(planRestore({ kind: 'present', meta: meta({ format: 2 }) }, identity, log)).toMatchObject({ kind: 'rebuild', reason: 'format' });
    expect(planRestore({ kind: 'present', meta: meta({ format: 3 }) }, identity, log)).toMatchObject({ kind: 'rebuild', reason: 'format' });
    expect(planRestore({ kind: 'present', meta: meta({ partition: 4 }) }, identity, log)).toMatchObject({ kind: 'rebuild', reason: 'other-partition' });
    expect(planRestore({ kind: 'present', meta: meta({ topic: 'x' }) }, identity, log)).toMatchObject({ kind: 'rebuild', reason: 'other-partition' });
    expect(planRestore({ kind: 'present', meta: meta({ epoch: 'e0' }) }, identity, log)).toMatchObject({ kind: 'rebuild', reason: 'other-epoch' });
  });

  it('rebuilds a store that claims more than the log holds, or whose delta was deleted', () => {
    expect(planRestore({ kind: 'present', meta: meta({ offset: 901 }) }, identity, log)).toMatchObject({ kind: 'rebuild', reason: 'ahead-of-log' });
    expect(planRestore({ kind: 'present', meta: meta({ offset: 10 }) }, identity, { low: 11, high: 900 })).toMatchObject({ kind: 'rebuild', reason: 'behind-log-start' });
    expect(planRestore({ kind: 'present', meta: meta({ offset: 11 }) }, identity, { low: 11, high: 900 })).toEqual({ kind: 'restore', from: 11 });
  });

  it('never restores states folded by another fold version, whatever the offsets', () => {
    for (const offset of [0, 500, 900]) {
      expect(planRestore({ kind: 'present', meta: meta({ foldVersion: 1, offset }) }, identity, log)).toEqual({ kind: 'stale-fold', stored: 1, expected: 2 });
    }
  });

  it('names the versions and the way out when refusing on a stale fold', () => {
    const message = staleFoldMessage(identity, { kind: 'stale-fold', stored: 1, expected: 2 });
    expect(message).toContain('fold version 1');
    expect(message).toContain('version 2');
    expect(message).toContain('docs/state-stores.md');
  });
});
