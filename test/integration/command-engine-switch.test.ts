/**
 * Switching the command processor's engine on one STATE_DIR (docs/command-side.md
 * "The processor on the runtime (opt-in)"), against the real Kafka and
 * registry, on a topic set of the test's own: the processor's own engine, then
 * the stateful runtime (COMMAND_ENGINE=runtime), then the processor's engine
 * again, each a child process on the SAME state directory (both keep one
 * stamped store per snapshots partition there, under the same names), each
 * killed -9 before the next starts. Each engine finds the stores the other
 * left (behind the snapshots topic by what the other decided since) without
 * refusal, decides the commands sent while it runs, and answers repeats of the
 * other engine's commands with their first replies; the log shows every
 * command decided once (each event written once, versions contiguous, every
 * reply naming its events' real offsets) and every repeat answered alike.
 * Each engine counts the aggregates of the other's stores right (the held
 * gauge): the two label their checkpoint rows alike (the runtime's counted a
 * processor's checkpoint as an aggregate, the processor counted none of the
 * runtime's aggregates).
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logLevel } from 'kafkajs';
import { AvroCodec } from '../../infra/kafka/codec';
import { readStoreMeta } from '../../infra/state/state-store';
import { waitFor } from '../../infra/wait-for';
import { testKafka, testRegistry, unique } from '../support/kafka';
import { createProcessorTopics, deleteProcessorTopics, processorTopics } from '../support/processor-crash';
import { crashChild } from '../support/stateful-crash';
import { addItem, logProblems, open, readLog, sendCommands, type Log, type OrderCommand } from '../support/command-definition';

jest.setTimeout(300_000);

const kafka = testKafka('it-command-engine-switch', logLevel.NOTHING);
const codec = new AvroCodec(testRegistry());
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
const run = unique('it-engswitch');
const t = processorTopics(run);
const stateDir = mkdtempSync(join(tmpdir(), 'it-command-engine-switch-'));

type Engine = 'processor' | 'runtime';

/**
 * Runs one engine's child on the shared state directory for `use`, and kills it -9 however `use` ends;
 * `held`: the order aggregates its restored stores must hold once ready (the held gauge, counted from the other engine's stores).
 */
async function withEngine<T>(engine: Engine, held: number, use: () => Promise<T>): Promise<T> {
  const c = crashChild(['processor-run', run, stateDir], { TOPIC_PREFIX: run, COMMAND_ENGINE: engine });
  try {
    const ready = await waitFor(`the ${engine} engine ready or refused`, async () => c.lines.find((l) => l === 'ready' || l.startsWith('refused ')), 120_000);
    expect(ready).toBe('ready');
    expect(c.lines.filter((l) => l.startsWith('held '))).toEqual([`held ${held}`]);
    return await use();
  } finally {
    await c.kill();
  }
}

/** Sends `commands` and waits until each of `commandIds` has `n` replies or more. */
async function sendAndWait(commands: readonly OrderCommand[], counts: ReadonlyMap<string, number>): Promise<Log> {
  await sendCommands(producer, codec, run, commands);
  return waitFor(`${counts.size} commands answered`, async () => {
    const log = await readLog(kafka, codec, run);
    return [...counts].every(([id, n]) => (log.replies.get(id)?.length ?? 0) >= n) ? log : undefined;
  }, 120_000);
}

/** Every commandId's replies so far, counted. */
const replyCounts = (log: Log): Map<string, number> => new Map([...log.replies].map(([id, replies]) => [id, replies.length]));

beforeAll(async () => {
  await createProcessorTopics(kafka, codec, run);
  await producer.connect();
});

afterAll(async () => {
  await producer.disconnect();
  rmSync(stateDir, { recursive: true, force: true });
  await deleteProcessorTopics(kafka, run);
});

describe('switching the command engine on one STATE_DIR', () => {
  it('processor, runtime, processor again: no refusal, every command decided once, repeats answered with the first reply', async () => {
    // 1. The processor's own engine opens orders and adds an item.
    const first = [...['a-1', 'a-2', 'a-3', 'a-4'].map((o) => open(o)), addItem('a-1', 'm-1')];
    const byProcessor = await withEngine('processor', 0, () => sendAndWait(first, new Map(first.map((c) => [c.commandId, 1]))));
    const stores = readdirSync(stateDir).filter((d) => d.startsWith(`${t.snapshots}-`));
    expect(stores.length).toBeGreaterThan(0);

    // 2. The runtime, on the processor's stores: orders of its own, an item on a processor's order, repeats of the processor's commands.
    const second = [...['b-1', 'b-2', 'b-3'].map((o) => open(o)), addItem('a-2', 'm-1'), addItem('a-1', 'm-2'), open('a-1'), addItem('a-1', 'm-1')];
    const byRuntime = await withEngine('runtime', 4, () =>
      sendAndWait(second, new Map([...first.map((c) => [c.commandId, 1] as const), ...second.map((c) => [c.commandId, 1] as const), ['c-a-1', 2], ['c-a-1-m-1', 2]])),
    );
    for (const id of ['c-a-1', 'c-a-1-m-1']) expect(byRuntime.replies.get(id)).toEqual([byProcessor.replies.get(id)?.[0], byProcessor.replies.get(id)?.[0]]);
    expect(byRuntime.replies.get('c-a-2-m-1')).toEqual([expect.objectContaining({ status: 'ACCEPTED', aggregateVersion: 2 })]);
    expect(byRuntime.replies.get('c-a-1-m-2')).toEqual([expect.objectContaining({ status: 'ACCEPTED', aggregateVersion: 3 })]);

    // 3. The processor's engine again, on the same stores (behind by what the runtime decided): items on orders of both, repeats of both.
    const third = [open('c-1'), addItem('b-1', 'm-1'), addItem('a-2', 'm-2'), addItem('a-1', 'm-3'), open('b-2'), addItem('a-2', 'm-1'), open('a-3')];
    const expected = new Map([...replyCounts(byRuntime), ...third.map((c) => [c.commandId, 1] as const), ['c-b-2', 2], ['c-a-2-m-1', 2], ['c-a-3', 2]]);
    const log = await withEngine('processor', 7, () => sendAndWait(third, expected));
    for (const id of ['c-b-2', 'c-a-2-m-1']) expect(log.replies.get(id)).toEqual([byRuntime.replies.get(id)?.[0], byRuntime.replies.get(id)?.[0]]);
    expect(log.replies.get('c-b-1-m-1')).toEqual([expect.objectContaining({ status: 'ACCEPTED', aggregateVersion: 2 })]);
    expect(log.replies.get('c-a-2-m-2')).toEqual([expect.objectContaining({ status: 'ACCEPTED', aggregateVersion: 3 })]);
    expect(log.replies.get('c-a-1-m-3')).toEqual([expect.objectContaining({ status: 'ACCEPTED', aggregateVersion: 4 })]);

    // Exactly once over the three: one reply per command, two per repeat; each event once, versions contiguous, offsets right.
    expect(replyCounts(log)).toEqual(expected);
    expect(logProblems(log, t.events)).toEqual([]);
    // a-1: opened and three items; a-2: opened and two; a-3, a-4: opened; b-1: opened and one; b-2, b-3, c-1: opened.
    expect(log.events).toHaveLength(4 + 3 + 1 + 1 + 2 + 1 + 1 + 1);
    for (const d of stores) expect(readStoreMeta(join(stateDir, d))).toMatchObject({ foldVersion: 1, epoch: '1' });
  });
});
