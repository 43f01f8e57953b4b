/**
 * A quick comparison, one aggregate (order), of commands decided per second by
 * today's command processor and by its definition on the stateful runtime
 * (producers/command-processor/command-definition.ts), each catching up on the
 * same backlog in a topic set of its own (test/support/processor-crash.ts:
 * two partitions): BENCH_ORDERS orders (default 5,000), each opened and given
 * one item (two commands per order), written before the engine starts. The
 * rate is the replies over the time from the engine taking its partitions
 * (the processor's "ready", the runtime's notReady() clearing; polled every
 * 20 ms) to the last reply's timestamp, so start-up is left out. The processor runs as a child process
 * (test/support/stateful-crash-child.ts), the definition in this process.
 * Every run checks the log (events once and contiguous, replies naming their
 * offsets). BENCH_ENGINES (default processor,definition,definition-decoupled)
 * picks and orders the runs. Prints figures; asserts nothing else.
 *
 *   npx tsx bench/command-definition-compare.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { logLevel } from 'kafkajs';
import { AvroCodec } from '../infra/kafka/codec';
import { rootLogger } from '../infra/logging';
import { waitFor } from '../infra/wait-for';
import { testKafka, testRegistry, unique } from '../test/support/kafka';
import { addItem, logProblems, open, orderCommandRuntime, readLog, sendCommands } from '../test/support/command-definition';
import { createProcessorTopics, deleteProcessorTopics, processorTopics } from '../test/support/processor-crash';
import { crashChild } from '../test/support/stateful-crash';
import { endOffsets, readRecords } from '../test/support/process-managers';

const ORDERS = Number(process.env.BENCH_ORDERS ?? 5_000);
const ENGINES = (process.env.BENCH_ENGINES ?? 'processor,definition,definition-decoupled').split(',');
const kafka = testKafka('bench-command-definition', logLevel.NOTHING);
const codec = new AvroCodec(testRegistry());
const logger = rootLogger.child({ bench: 'command-definition' });
logger.level = 'silent';

async function backlog(run: string): Promise<number> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const orders = Array.from({ length: ORDERS }, (_, i) => `o-${i}`);
  for (let i = 0; i < orders.length; i += 500) {
    const slice = orders.slice(i, i + 500);
    await sendCommands(producer, codec, run, slice.map((o) => open(o)));
    await sendCommands(producer, codec, run, slice.map((o) => addItem(o, 'm-1')));
  }
  await producer.disconnect();
  return orders.length * 2;
}

async function repliesWritten(run: string): Promise<number> {
  const ends = await endOffsets(kafka, [processorTopics(run).replies]);
  return [...(ends.values().next().value ?? new Map<number, number>()).values()].reduce((a, b) => a + b, 0);
}

async function measure(engine: string): Promise<string> {
  const run = unique(`bench-cmddef-${engine}`);
  await createProcessorTopics(kafka, codec, run);
  const dir = mkdtempSync(join(tmpdir(), 'bench-cmddef-'));
  try {
    const commands = await backlog(run);
    const load = loadavg().map((l) => l.toFixed(1)).join(' ');
    let stop: () => Promise<void>;
    if (engine === 'processor') {
      const child = crashChild(['processor-run', run, dir], { TOPIC_PREFIX: run });
      stop = () => child.kill();
      await waitFor(`${engine} ready`, () => (child.lines.includes('ready') ? true : undefined), 120_000, 20);
    } else {
      const runtime = orderCommandRuntime({ kafka, codec, logger, run, stateDir: dir, decoupledFetch: engine === 'definition-decoupled' });
      stop = () => runtime.stop();
      void runtime.start();
      await waitFor(`${engine} ready`, () => (runtime.notReady() === undefined ? true : undefined), 120_000, 20);
    }
    const ready = Date.now();
    // Replies take offsets with the transactions' markers too: wait past the count, then read them.
    await waitFor(`${engine}: ${commands} replies`, async () => ((await repliesWritten(run)) >= commands ? true : undefined), 600_000, 1_000);
    const replies = await waitFor(`${engine}: every reply`, async () => {
      const found = await readRecords(kafka, processorTopics(run).replies);
      return found.length >= commands ? found : undefined;
    }, 120_000, 1_000);
    await stop();
    // From the moment it took its partitions (restored: nothing to restore here) to the last reply's timestamp.
    const spanMs = Math.max(...replies.map((r) => r.timestamp)) - ready;
    const problems = logProblems(await readLog(kafka, codec, run), processorTopics(run).events);
    return `${engine.padEnd(22)} ${commands} commands, ${replies.length} replies in ${spanMs} ms: ${Math.round((replies.length / spanMs) * 1000)} commands/s (load before ${load}, after ${loadavg().map((l) => l.toFixed(1)).join(' ')})${problems.length === 0 ? '' : `; PROBLEMS: ${problems.slice(0, 3).join('; ')}`}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await deleteProcessorTopics(kafka, run);
  }
}

async function main(): Promise<void> {
  for (const engine of ENGINES) process.stdout.write(`${await measure(engine)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
