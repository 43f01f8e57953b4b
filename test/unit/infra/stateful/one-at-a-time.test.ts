import { oneAtATime } from '../../../../infra/stateful/one-at-a-time';

/** A call that stays open until released: stands in for loading an assignment's partitions. */
function controlled() {
  const log: string[] = [];
  const releases = new Map<string, () => void>();
  const fail = new Set<string>();
  const run = async (name: string): Promise<void> => {
    log.push(`start ${name}`);
    await new Promise<void>((resolve) => releases.set(name, resolve));
    log.push(`end ${name}`);
    if (fail.has(name)) throw new Error(`${name} failed`);
  };
  return { log, release: (name: string) => releases.get(name)?.(), fail, run };
}

const turns = async (): Promise<void> => {
  for (let i = 0; i < 5; i += 1) await new Promise((done) => setImmediate(done));
};

describe('oneAtATime', () => {
  it('starts a call only once the previous one has settled, in the order they came', async () => {
    const c = controlled();
    const assigned = oneAtATime(c.run);
    const first = assigned('generation 1');
    const second = assigned('generation 2');
    await turns();
    expect(c.log).toEqual(['start generation 1']); // generation 2 does not load the same partitions meanwhile
    c.release('generation 1');
    await first;
    await turns();
    expect(c.log).toEqual(['start generation 1', 'end generation 1', 'start generation 2']);
    c.release('generation 2');
    await second;
  });

  it('goes on after a call that failed, which still fails for its own caller', async () => {
    const c = controlled();
    c.fail.add('a');
    const assigned = oneAtATime(c.run);
    const a = assigned('a');
    const b = assigned('b');
    await turns();
    c.release('a');
    await expect(a).rejects.toThrow('a failed');
    await turns();
    c.release('b');
    await expect(b).resolves.toBeUndefined();
    expect(c.log).toEqual(['start a', 'end a', 'start b', 'end b']);
  });
});
