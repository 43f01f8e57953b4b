// kill -9 at the state store's crash points (docs/state-stores.md "Safety"):
// between a changelog commit and the store write, and in the middle of a
// restore. Afterwards the store is a prefix of the committed log and the next
// restore brings it to exactly the fold of that log.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fencedProducer } from '../../infra/kafka/transactions';
import { FOLD_VERSION_HEADER } from '../../infra/state/changelog-restore';
import { openAndRestore, type Restored } from '../../infra/state/open-store';
import { logLevel } from 'kafkajs';
import { createTopicsAndWait, testKafka, unique } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';

const kafka = testKafka('state-crash-test');
const topic = unique('it.state-crash-changelog');
const identity = { topic, partition: 0, epoch: 'e1', foldVersion: 1 };
const committed = new Map<string, string>();
/** For the changelog writer: kafkajs logs its quick CONCURRENT_TRANSACTIONS retries as errors; a failed send still throws. */
const quietKafka = testKafka('state-writer', logLevel.NOTHING);
let root: string;

function child(args: string[], env: NodeJS.ProcessEnv = {}): { process: ChildProcess; lines: string[]; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '../support/state-crash-child.ts'), ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const lines: string[] = [];
  let buffered = '';
  proc.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    lines.push(...parts);
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { process: proc, lines, exited };
}

function ready(restored: Restored<string>): Extract<Restored<string>, { kind: 'ready' }> {
  if (restored.kind !== 'ready') throw new Error(restored.message);
  return restored;
}

async function restoreAndRead(dir: string): Promise<{ from: number; records: number; contents: Map<string, string> }> {
  const restored = ready(await openAndRestore(kafka, dir, identity, { decode: (bytes) => bytes.toString() }));
  try {
    return { from: restored.restore.from, records: restored.restore.records, contents: new Map([...restored.store.entries()].map((e) => [e.key, e.value.toString()])) };
  } finally {
    restored.store.close();
  }
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'state-crash-it-'));
  await createTopicsAndWait(kafka, [{ topic, numPartitions: 1 }]);
  const producer = await fencedProducer(quietKafka, unique('it.state-crash-writer'));
  try {
    for (let b = 0; b < 30; b += 1) {
      const messages = Array.from({ length: 20 }, (_, i) => ({ key: `k-${(b * 7 + i) % 200}`, value: `v-${b}-${i}`, partition: 0, headers: { [FOLD_VERSION_HEADER]: '1' } }));
      const txn = await producer.transaction();
      await txn.send({ topic, messages });
      await txn.commit();
      for (const m of messages) committed.set(m.key, m.value);
    }
  } finally {
    await producer.disconnect();
  }
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

it.each(['inline', 'worker'])('a restore killed -9 part-way (store writes %s) leaves a store the next restore completes from where it stopped', async (writer) => {
  const dir = join(root, `killed-restore-${writer}`);
  const run = child(['restore', dir, topic], { STATE_RESTORE_WRITER: writer });
  await waitFor('the child to apply a few restore batches', async () => (run.lines.filter((l) => l.startsWith('progress')).length >= 3 ? true : undefined), 45_000);
  run.process.kill('SIGKILL');
  await run.exited;
  expect(run.lines).not.toContain('restored');

  const after = await restoreAndRead(dir);
  expect(after.from).toBeGreaterThan(0); // the batches it committed to the store survived the kill
  expect(after.contents).toEqual(committed);
}, 90_000);

it('a task killed -9 between its changelog commit and its store write catches up on the next restore', async () => {
  const dir = join(root, 'killed-after-commit');
  const before = await restoreAndRead(dir);
  const run = child(['commit-then-hang', dir, topic, unique('it.state-crash-task')]);
  await waitFor('the child to commit its transaction', async () => (run.lines.includes('committed') ? true : undefined), 45_000);
  run.process.kill('SIGKILL');
  await run.exited;
  committed.set('decided-then-killed', 'committed');

  const after = await restoreAndRead(dir);
  expect(after.from).toBeGreaterThanOrEqual(before.from);
  expect(after.contents.get('decided-then-killed')).toBe('committed');
  expect(after.contents).toEqual(committed);
}, 90_000);
