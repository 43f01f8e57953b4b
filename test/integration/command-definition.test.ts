/**
 * The command processor's per-aggregate definition on the stateful runtime
 * (producers/command-processor/command-definition.ts, docs/command-side.md
 * "The processor's definition on the runtime"), against the real Kafka and
 * registry, on a topic set of the test's own (the catalog's order topics under
 * the run's prefix, two partitions). The processor (every definition on one runtime, a child process) opens
 * orders first; the definition then takes the same topics and group: it reads
 * the processor's snapshots without refusal and answers a repeat of the
 * processor's commands with the processor's replies. Then it decides orders
 * of its own, and the log shows every command decided once (event versions
 * contiguous per order, one reply per command), every reply naming its events'
 * real offsets, a repeated commandId (in the same batch and later) answered
 * with the first reply and no event, If-Match on a stale version rejected with
 * version_conflict, snapshots the processor's decoder reads with the
 * fold-version header, and after a restart with no store (the snapshots
 * topic read back) repeats still answered from the duplicate memory. Last,
 * the processor takes the topics back and answers repeats of the
 * definition's commands from the definition's snapshots, deciding nothing
 * twice: both keep one checkpoint under the processor's key, so each
 * switch resumes at the other's exact position, whatever the group's offsets
 * say (no lag report is waited for). A second test parks an
 * order behind an undecodable command and another behind a record that is no
 * command (`unknown-record`): their next commands refused with the
 * aggregate's version, the others decided; redrives (failing) and skips
 * written the processor's way, to the commands topic, are each decided once,
 * also across a restart. A third kills the
 * definition's process -9 between a commit and its store write: the next
 * owner, on the same (behind) stores, decides nothing twice.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logLevel } from 'kafkajs';
import { AvroCodec } from '../../infra/kafka/codec';
import { rootLogger } from '../../infra/logging';
import { waitFor } from '../../infra/wait-for';
import { FOLD_VERSION_HEADER } from '../../infra/state/changelog-restore';
import type { StatefulRuntime } from '../../infra/stateful/runtime';
import { entryOfSnapshot } from '../../producers/command-processor/command-records';
import type { CommandInput } from '../../producers/command-processor/command-definition';
import type { CommandState } from '../../producers/command-processor/command-state';
import { VERSION_CONFLICT } from '../../producers/command-processor/handle';
import { createTopicsAndWait, testKafka, testRegistry, unique, withAdmin } from '../support/kafka';
import { requestAndWait } from '../../infra/stateful/parked-tools';
import { partitionFor } from '../../schemas/partitioning';
import { AGGREGATE_PARKED } from '../../producers/command-processor/command-records';
import { latestByKey, readRecords } from '../support/process-managers';
import { createProcessorTopics, deleteProcessorTopics, openOrders, processorTopics } from '../support/processor-crash';
import { crashChild, type CrashChild } from '../support/stateful-crash';
import { addItem, definitionChild, logProblems, open, orderCommandRuntime, orderRuntime, processorParkingTarget, readLog, sendCommands, type Log } from '../support/command-definition';

jest.setTimeout(300_000);

const kafka = testKafka('it-command-definition', logLevel.NOTHING);
const codec = new AvroCodec(testRegistry());
const logger = rootLogger.child({ test: 'command-definition' });
logger.level = 'silent';
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
const run = unique('it-cmddef');
const t = processorTopics(run);
/** The parking test's topic set. */
const parkRun = unique('it-cmddef-park');
const pt = processorTopics(parkRun);
/** The kill -9 test's topic set. */
const crashRun = unique('it-cmddef-crash');
const ct = processorTopics(crashRun);
const processorDir = mkdtempSync(join(tmpdir(), 'it-cmddef-processor-'));
let child: CrashChild | undefined;
let runtime: StatefulRuntime<CommandState, CommandInput> | undefined;

const BY_PROCESSOR = ['p-1', 'p-2', 'p-3', 'p-4'];
const OWN = ['d-1', 'd-2', 'd-3', 'd-4', 'd-5', 'd-6'];
const ITEMS = ['m-1', 'm-2', 'm-3'];

async function start(): Promise<StatefulRuntime<CommandState, CommandInput>> {
  const started = orderCommandRuntime({ kafka, codec, logger, run });
  runtime = started;
  await started.start();
  await waitFor('the definition ready', async () => (started.notReady() === undefined ? true : undefined), 120_000);
  return started;
}

/** Waits until every commandId has at least `n` replies (default 1), then reads the log. */
async function answered(commandIds: readonly string[], n = 1): Promise<Log> {
  return waitFor(`${commandIds.length} commands answered`, async () => {
    const log = await readLog(kafka, codec, run);
    return commandIds.every((id) => (log.replies.get(id)?.length ?? 0) >= n) ? log : undefined;
  }, 120_000);
}

beforeAll(async () => {
  await createProcessorTopics(kafka, codec, run);
  await createProcessorTopics(kafka, codec, parkRun);
  await createProcessorTopics(kafka, codec, crashRun);
  await createTopicsAndWait(kafka, [{ topic: `${parkRun}.dead-letter-actions`, numPartitions: 2, replicationFactor: 1 }]);
  await producer.connect();
});

afterAll(async () => {
  await child?.kill();
  await runtime?.stop();
  await producer.disconnect();
  rmSync(processorDir, { recursive: true, force: true });
  await deleteProcessorTopics(kafka, run);
  await deleteProcessorTopics(kafka, parkRun);
  await deleteProcessorTopics(kafka, crashRun);
  await withAdmin(kafka, (admin) => admin.deleteTopics({ topics: [`${parkRun}.dead-letter-actions`] })).catch(() => undefined);
});

describe("the command processor's definition on the stateful runtime", () => {
  it('takes over from the processor, decides every command once, answers repeats from its memory (also after a restart), and hands back to the processor', async () => {
    // The processor opens orders and commits its group's offsets (its lag report) up to the commands' ends.
    child = crashChild(['processor-run', run, processorDir], { TOPIC_PREFIX: run });
    await waitFor('the processor ready', async () => (child?.lines.includes('ready') ? true : undefined), 120_000);
    await openOrders(producer, codec, run, BY_PROCESSOR);
    const byProcessor = await answered(BY_PROCESSOR.map((o) => `c-${o}`));
    // Killed at once, its lag report perhaps not sent: the definition starts at the processor's checkpoint.
    await child.kill();
    child = undefined;

    // The definition reads the processor's snapshots (no refusal) and answers the processor's commands again from them.
    let running = await start();
    expect(running.broken()).toBeUndefined();
    await openOrders(producer, codec, run, BY_PROCESSOR);
    const repeated = await answered(BY_PROCESSOR.map((o) => `c-${o}`), 2);
    for (const o of BY_PROCESSOR) expect(repeated.replies.get(`c-${o}`)).toEqual([byProcessor.replies.get(`c-${o}`)?.[0], byProcessor.replies.get(`c-${o}`)?.[0]]);
    expect(repeated.events).toHaveLength(BY_PROCESSOR.length);

    // Orders of its own: each opened, then three items, the first item sent twice in one batch; items added to a processor's order too.
    await sendCommands(producer, codec, run, OWN.map((o) => open(o)));
    await sendCommands(producer, codec, run, [...OWN.flatMap((o) => [addItem(o, 'm-1'), addItem(o, 'm-1'), addItem(o, 'm-2'), addItem(o, 'm-3')]), addItem('p-1', 'm-1')]);
    const own = [...OWN.flatMap((o) => [`c-${o}`, ...ITEMS.map((i) => `c-${o}-${i}`)]), 'c-p-1-m-1'];
    let log = await answered(own);
    // If-Match on a stale version (each order is at version 4): version_conflict, no event.
    await sendCommands(producer, codec, run, [addItem('d-1', 'm-9', 'c-stale', 2)]);
    log = await answered([...own, 'c-stale']);
    expect(log.replies.get('c-stale')).toEqual([expect.objectContaining({ status: 'REJECTED', rejectionCode: VERSION_CONFLICT, aggregateVersion: 4 })]);

    expect(logProblems(log, t.events)).toEqual([]);
    for (const o of OWN) {
      expect(log.events.filter((e) => e.key.startsWith(`${o}/`)).map((e) => e.type)).toEqual(['OrderOpened', 'ItemAddedToOrder', 'ItemAddedToOrder', 'ItemAddedToOrder']);
      // One reply per command; the repeat in the same batch answered with the first reply, offsets included.
      expect(log.replies.get(`c-${o}-m-1`)).toHaveLength(2);
      for (const id of [`c-${o}`, `c-${o}-m-2`, `c-${o}-m-3`]) expect(log.replies.get(id)).toHaveLength(1);
      expect(log.replies.get(`c-${o}-m-3`)?.[0]).toMatchObject({ status: 'ACCEPTED', aggregateVersion: 4, events: [expect.objectContaining({ version: 4, eventType: 'ItemAddedToOrder' })] });
    }
    expect(log.replies.get('c-p-1-m-1')?.[0]).toMatchObject({ status: 'ACCEPTED', aggregateVersion: 2 });
    expect(log.events).toHaveLength(BY_PROCESSOR.length + OWN.length * 4 + 1);

    // Its snapshots are the processor's records: decodable by the processor's decoder, stamped with the fold version.
    const snapshots = await readRecords(kafka, t.snapshots, codec);
    const latest = latestByKey(snapshots.filter((r) => !r.key.startsWith('@')));
    for (const o of OWN) {
      const snapshot = latest.get(o);
      expect(snapshot?.type).toBe('OrderSnapshot');
      expect(snapshot?.headers[FOLD_VERSION_HEADER]).toBe('1');
      const entry = entryOfSnapshot(orderRuntime(), snapshot?.value);
      expect(entry.version).toBe(4);
      expect(entry.recentCommands.find((r) => r.commandId === `c-${o}-m-2`)).toEqual(log.replies.get(`c-${o}-m-2`)?.[0]);
    }
    // Its positions are checkpoints in the snapshots topic under the processor's own key, naming the commands topic.
    const checkpoints = snapshots.filter((r) => r.key.startsWith('@checkpoint/'));
    expect(new Set(checkpoints.map((r) => r.key))).toEqual(new Set([`@checkpoint/${t.groupId}`]));
    expect(new Set(checkpoints.map((r) => (r.value as { commandTopic: string }).commandTopic))).toEqual(new Set([t.commands]));

    // A restart with no store: repeats answered from the snapshots topic, with the first replies and no event.
    await running.stop();
    running = await start();
    const repeats = OWN.map((o) => addItem(o, 'm-2'));
    await sendCommands(producer, codec, run, repeats);
    const after = await answered(repeats.map((c) => c.commandId), 2);
    for (const c of repeats) {
      const replies = after.replies.get(c.commandId) ?? [];
      expect(replies).toHaveLength(2);
      expect(replies[1]).toEqual(replies[0]);
    }
    expect(after.events).toHaveLength(log.events.length);
    expect(logProblems(after, t.events)).toEqual([]);
    expect(running.stats().transactionsFailed).toBe(0);

    // And back: the processor, on a store of its own, reads the definition's snapshots and answers its commands from them.
    // It starts at the definition's checkpoints (its own key, overwritten): with a key of the runtime's own it found its
    // checkpoint from before the definition ran and decided every command since again (a second reply each).
    await running.stop();
    runtime = undefined;
    child = crashChild(['processor-run', run, mkdtempSync(join(processorDir, 'again-'))], { TOPIC_PREFIX: run });
    await waitFor('the processor ready again', async () => (child?.lines.includes('ready') ? true : undefined), 120_000);
    const third = OWN.map((o) => addItem(o, 'm-3'));
    await sendCommands(producer, codec, run, third);
    const back = await answered(third.map((c) => c.commandId), 2);
    for (const c of third) expect(back.replies.get(c.commandId)?.[1]).toEqual(back.replies.get(c.commandId)?.[0]);
    expect(back.events).toHaveLength(log.events.length);
    expect(child.lines.some((l) => l.startsWith('refused'))).toBe(false);
    // Every command's replies as before the handback (only the repeats sent after it answered again).
    const expected = new Map<string, number>([
      ...BY_PROCESSOR.map((o) => [`c-${o}`, 2] as const),
      ...OWN.flatMap((o) => [[`c-${o}`, 1], [`c-${o}-m-1`, 2], [`c-${o}-m-2`, 2], [`c-${o}-m-3`, 2]] as const),
      ['c-p-1-m-1', 1],
      ['c-stale', 1],
    ]);
    expect(new Map([...back.replies].map(([id, replies]) => [id, replies.length]))).toEqual(expected);
    await child.kill();
    child = undefined;
  });

  it('parks an aggregate behind an undecodable command or a record that is no command: its later commands refused (with its version), the others decided; a skip and a redrive on the commands topic (the processor\'s tools) unpark them, once', async () => {
    const started = orderCommandRuntime({ kafka, codec, logger, run: parkRun });
    runtime = started;
    await started.start();
    await waitFor('the definition ready', async () => (started.notReady() === undefined ? true : undefined), 120_000);
    const answeredHere = (ids: readonly string[]): Promise<Log> =>
      waitFor(`${ids.length} commands answered`, async () => {
        const log = await readLog(kafka, codec, parkRun);
        return ids.every((id) => log.replies.has(id)) ? log : undefined;
      }, 120_000);
    await sendCommands(producer, codec, parkRun, [open('x-1'), open('x-2'), open('x-3')]);
    await answeredHere(['c-x-1', 'c-x-2', 'c-x-3']);
    // An OpenOrder's wire header with its body cut short: no Avro record, keyed by x-1.
    const valid = await codec.encode(pt.commands, 'restaurant.order.OpenOrder', { customerId: 'c', metadata: { commandId: 'bad', aggregateId: 'x-1', correlationId: 'k', issuedAt: 0, expectedVersion: null, actor: null } });
    await producer.send({ topic: pt.commands, acks: -1, messages: [{ key: 'x-1', value: Buffer.concat([valid.subarray(0, 5), Buffer.from([0x7f])]), partition: partitionFor('x-1', 2) }] });
    // A record that is no command (an event's type) keyed by x-3: dead-lettered `unknown-record`, x-3 parked, as the processor does.
    const event = await codec.encode(pt.events, 'restaurant.order.OrderOpened', { customerId: 'c', metadata: { eventId: 'e', aggregateId: 'x-3', version: 9, occurredAt: 0, commandId: 'k', correlationId: 'k', causationId: 'k', actor: null } });
    await producer.send({ topic: pt.commands, acks: -1, messages: [{ key: 'x-3', value: event, partition: partitionFor('x-3', 2), headers: { 'event-type': 'OrderOpened' } }] });
    await sendCommands(producer, codec, parkRun, [addItem('x-1', 'm-1'), addItem('x-2', 'm-1'), addItem('x-3', 'm-1')]);
    const log = await answeredHere(['c-x-1-m-1', 'c-x-2-m-1', 'c-x-3-m-1']);
    // With the aggregate's version (its last good state, 1), as the processor's refusal.
    expect(log.replies.get('c-x-1-m-1')).toEqual([expect.objectContaining({ status: 'REJECTED', rejectionCode: AGGREGATE_PARKED, aggregateVersion: 1 })]);
    expect(log.replies.get('c-x-3-m-1')).toEqual([expect.objectContaining({ status: 'REJECTED', rejectionCode: AGGREGATE_PARKED, aggregateVersion: 1 })]);
    expect(log.replies.get('c-x-2-m-1')).toEqual([expect.objectContaining({ status: 'ACCEPTED', aggregateVersion: 2 })]);
    expect(log.events.map((e) => e.key).sort()).toEqual(['x-1/1', 'x-2/1', 'x-2/2', 'x-3/1']);
    const dlq = await readRecords(kafka, `${pt.commands}.dlq`);
    expect(dlq.map((r) => [r.key, r.headers['dlq-reason']]).sort()).toEqual([['x-1', 'corrupt'], ['x-3', 'unknown-record']]);
    expect(started.stats().parkedProcesses).toBe(2);

    // The operator's requests the processor's way: `requestAndWait` with the processor's target writes them to the
    // commands topic (`requests`), where the definition takes them in order with the commands (`requestsOnInput`).
    const target = processorParkingTarget(parkRun, pt.groupId);
    expect(target.requests?.physical).toBe(pt.commands);
    const request = (action: 'skip' | 'redrive', processId: string) => requestAndWait({ kafka, codec, producer }, target, { action, processId, position: null }, { actor: 'test', why: 'test', timeoutMs: 60_000 });
    // A redrive decodes the heads again: still no command (corrupt; an event), so it fails and nothing is unparked.
    expect(await request('redrive', 'x-1')).toMatchObject({ outcome: 'failed', readModel: 'order-commands', applied: 0 });
    expect(await request('redrive', 'x-3')).toMatchObject({ outcome: 'failed', applied: 0, detail: expect.stringContaining('OrderOpened is not handled') });
    expect(started.stats().parkedProcesses).toBe(2);
    expect(await request('skip', 'x-1')).toMatchObject({ outcome: 'skipped', events: [expect.stringMatching(new RegExp(`^${pt.commands}:${partitionFor('x-1', 2)}:`))] });
    expect(await request('skip', 'x-3')).toMatchObject({ outcome: 'skipped' });
    // Decided once: a second skip finds nothing parked.
    expect(await request('skip', 'x-3')).toMatchObject({ outcome: 'not-parked', applied: 0 });
    expect(started.stats().parkedProcesses).toBe(0);
    await sendCommands(producer, codec, parkRun, [addItem('x-1', 'm-1', 'c-x-1-m-1-again'), addItem('x-3', 'm-1', 'c-x-3-m-1-again')]);
    const after = await answeredHere(['c-x-1-m-1-again', 'c-x-3-m-1-again']);
    expect(after.replies.get('c-x-1-m-1-again')).toEqual([expect.objectContaining({ status: 'ACCEPTED', aggregateVersion: 2 })]);
    expect(after.replies.get('c-x-3-m-1-again')).toEqual([expect.objectContaining({ status: 'ACCEPTED', aggregateVersion: 2 })]);
    expect(logProblems(after, pt.events)).toEqual([]);
    // Restarted with no store: the requests are below the checkpoint, none decided again (one action each).
    await started.stop();
    const again = orderCommandRuntime({ kafka, codec, logger, run: parkRun });
    runtime = again;
    await again.start();
    await sendCommands(producer, codec, parkRun, [addItem('x-3', 'm-2')]);
    await answeredHere(['c-x-3-m-2']);
    const actions = await readRecords(kafka, `${parkRun}.dead-letter-actions`, codec);
    expect(actions.map((a) => a.value?.outcome).sort()).toEqual(['failed', 'failed', 'not-parked', 'skipped', 'skipped']);
    expect(again.stats().parkedProcesses).toBe(0);
    await again.stop();
    runtime = undefined;
  });

  it('killed -9 between a commit and its store write, the next owner on the same stores decides nothing twice and answers repeats from what was committed', async () => {
    const dir = mkdtempSync(join(processorDir, 'crash-'));
    const orders = ['k-1', 'k-2', 'k-3', 'k-4'];
    const first = [...orders.map((o) => open(o)), ...orders.map((o) => addItem(o, 'm-1'))];
    child = definitionChild(crashRun, dir);
    await waitFor('the child ready', async () => (child?.lines.includes('ready') ? true : undefined), 120_000);
    await sendCommands(producer, codec, crashRun, first);
    await waitFor('a commit', async () => (child?.lines.some((l) => l.startsWith('committed')) ? true : undefined), 60_000);
    await child.kill();
    child = undefined;
    const committed = await readLog(kafka, codec, crashRun);
    expect(committed.replies.size).toBeGreaterThan(0);

    const started = orderCommandRuntime({ kafka, codec, logger, run: crashRun, stateDir: dir });
    runtime = started;
    await started.start();
    const more = orders.map((o) => addItem(o, 'm-2'));
    await sendCommands(producer, codec, crashRun, [...first, ...more]);
    const log = await waitFor('every command answered, the first ones twice', async () => {
      const found = await readLog(kafka, codec, crashRun);
      return first.every((c) => (found.replies.get(c.commandId)?.length ?? 0) >= 2) && more.every((c) => found.replies.has(c.commandId)) ? found : undefined;
    }, 120_000);
    expect(logProblems(log, ct.events)).toEqual([]);
    for (const c of first) expect(log.replies.get(c.commandId)).toHaveLength(2);
    for (const c of more) expect(log.replies.get(c.commandId)).toEqual([expect.objectContaining({ status: 'ACCEPTED', aggregateVersion: 3 })]);
    expect(log.events).toHaveLength(orders.length * 3);
  });
});
