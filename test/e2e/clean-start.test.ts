/**
 * What a person sees when they run the system: a clean start, a rebalance (a
 * second projectors process joins and leaves) and a clean SIGTERM stop say
 * nothing at warn level or above. The broker's transient start-up answers and
 * kafkajs's notices are retried conditions, not problems (docs/operations.md,
 * "What the logs say"); a real warning or error here fails the test, naming it.
 */
import { unique } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';
import { call } from '../support/http';
import { startRole, type RoleProcess } from '../../app/chaos/role-process';

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly readModel?: string;
  readonly [field: string]: unknown;
}

/** Every line of a role's output, parsed; a line that is not a JSON log entry fails the test. */
function logLines(role: RoleProcess): LogLine[] {
  return role
    .output()
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as LogLine;
      } catch {
        throw new Error(`${role.role} wrote a line that is not JSON: ${line}`);
      }
    });
}

const loud = (lines: readonly LogLine[]): string[] => lines.filter((l) => l.level >= 40).map((l) => JSON.stringify(l));
const menuAssignments = (lines: readonly LogLine[]): number => lines.filter((l) => l.readModel === 'menu' && l.msg.startsWith('assigned')).length;

describe('a clean start, rebalance and stop of `npm start` (ROLE=all)', () => {
  const started: RoleProcess[] = [];
  afterAll(async () => {
    await Promise.all(started.map((r) => r.kill()));
  });

  it('logs nothing at warn or error level', async () => {
    const env = { LOG_FORMAT: 'json', LOG_LEVEL: 'info', READ_MODEL_KEYSPACE: unique('cs').toLowerCase() };
    const all = await startRole('all', env, { keepChars: 5_000_000 });
    started.push(all);
    await waitFor('the start banner line', async () => (logLines(all).some((l) => l.msg === 'restaurant is running') ? true : undefined));
    await waitFor('the menu projector to be assigned', async () => (menuAssignments(logLines(all)) >= 1 ? true : undefined));

    // Some traffic: a transaction on the command side, a projection.
    const created = await call(all.url, 'POST', '/menu/items', { name: 'Clean start soup', description: 'Nothing to warn about', category: 'STARTER', price: { amountMinor: 450, currency: 'EUR' } });
    expect(created.status).toBeLessThan(300);

    // A rebalance: a second projectors process joins every projector group, then leaves.
    const projectors = await startRole('projectors', env, { keepChars: 5_000_000 });
    started.push(projectors);
    await waitFor('the second process to take menu partitions', async () => (menuAssignments(logLines(projectors)) >= 1 ? true : undefined), 60_000);
    const before = menuAssignments(logLines(all));
    expect(await projectors.stop()).toBe(0);
    await waitFor('the first process to take the menu partitions back', async () => (menuAssignments(logLines(all)) > before ? true : undefined), 60_000);

    expect(await all.stop()).toBe(0);
    const lines = logLines(all);
    expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['restaurant is running', 'shutting down', 'stopped']));
    expect(loud(lines)).toEqual([]);
    expect(loud(logLines(projectors))).toEqual([]);
  });
});
