// The stateful runtime (order fulfilment on a test's own topics) in a process
// of its own, for the crash tests to kill -9 (test/integration/stateful-crash.test.ts).
// Prints one line per step on stdout.
//
//   node --import tsx test/support/stateful-crash-child.ts <mode> <run> <stateDir> <paymentTimeoutMs>
//     mode "hang-after-commit": runs until its first round has committed,
//       prints "committed <partition>", and hangs before writing its store
//       (the crash point between the two)
//     mode "run": runs, printing "owns <partitions>" whenever its partitions change
//     mode "slow-restore": restores one small batch at a time, printing
//       "restoring <partition> <offset>" after each, slowly enough to be killed part-way
//       (RESTORE_DELAY_MS per batch, default 300)
//     every mode prints "failed <n>" whenever its count of failed (fenced) transactions grows;
//     POSITIONS=changelog: the definition keeps its positions in its changelog (docs/stateful-runtime.md "Positions");
//     PARTS=1: two definitions per task instead (order fulfilment and the payment simulator, stateful-parts.ts;
//       docs/stateful-runtime.md "Several definitions per task"), and "hang-after-commit" hangs after the
//       first round that wrote both changelogs (a round of one part waits 300 ms before its store write, so
//       work of both queues up); <paymentTimeoutMs> is then the simulator's longest answer delay;
//     CHILD_LOG_LEVEL=info (with LOG_FORMAT=json) mixes the runtime's log into stdout, to look into a failure
//
//   TOPIC_PREFIX=<run> node --import tsx test/support/stateful-crash-child.ts processor-<mode> <run> <stateDir> [fold]
//     the command processor on the run's topic set (test/support/processor-crash.ts),
//     with the same modes (printing "committed <partitions>", "restoring
//     <topic> <partition> <offset>"); every mode prints "held <n>" (the order
//     aggregates its stores hold) and "ready" once it decides
//     and "refused <reason>" when it refuses its partitions. fold "2": the
//     order fold changed and declared as fold version 2. STATE_CHANGELOG_EPOCH:
//     the stores' changelog epoch (default "1"), as the role takes it.
import { logLevel } from 'kafkajs';
import { AvroCodec } from '../../infra/kafka/codec';
import { rootLogger } from '../../infra/logging';
import { ProcessManagerRuntime } from '../../consumers/process-managers/runtime/runtime';
import { crashTopics, fulfilment } from './stateful-crash';
import { testKafka, testRegistry } from './kafka';
import { CommandProcessor } from '../../producers/command-processor/processor';
import { topicCatalog } from '../../schemas/topics';
import { changedOrderFold, PROCESSOR_PARTITIONS } from './processor-crash';
import { StatefulRuntime } from '../../infra/stateful/runtime';
import { partsTopics, twoParts } from './stateful-parts';

async function main(): Promise<void> {
  const [mode, run, stateDir, timeout] = process.argv.slice(2);
  if (mode?.startsWith('processor-') && run && stateDir) return runProcessor(mode.slice('processor-'.length), stateDir, timeout === '2');
  if ((mode !== 'hang-after-commit' && mode !== 'run' && mode !== 'slow-restore') || !run || !stateDir || !timeout) {
    throw new Error('usage: stateful-crash-child <hang-after-commit|run|slow-restore> <run> <stateDir> <paymentTimeoutMs>');
  }
  const logger = rootLogger.child({ test: 'stateful-crash-child' });
  logger.level = process.env.CHILD_LOG_LEVEL ?? 'silent';
  const parts = process.env.PARTS === '1';
  const { topicMap, groupId } = parts ? partsTopics(run) : crashTopics(run);
  const settings = {
    kafka: testKafka('stateful-crash-child', logLevel.NOTHING),
    codec: new AvroCodec(testRegistry()),
    logger,
    topicMap,
    groupId,
    stateDir,
    offsetFlushMs: 200,
    ...(mode === 'hang-after-commit'
      ? {
          betweenCommitAndStore: async (partition: number, changelogs: readonly string[]) => {
            // Two parts: a round of one part lingers before its store write, so the task's next round finds work of both queued.
            if (parts && changelogs.length < 2) return new Promise<void>((resolve) => setTimeout(resolve, 300));
            process.stdout.write(`committed ${partition}\n`);
            await new Promise<never>(() => undefined); // killed here, before the store write
          },
        }
      : {}),
    ...(mode === 'slow-restore'
      ? {
          restoreFetchBytes: 512,
          onRestoreProgress: async (partition: number, offset: number) => {
            process.stdout.write(`restoring ${partition} ${offset}\n`);
            await new Promise((resolve) => setTimeout(resolve, Number(process.env.RESTORE_DELAY_MS ?? 300)));
          },
        }
      : {}),
  };
  const positions = process.env.POSITIONS === 'changelog' ? { positions: 'changelog' as const } : {};
  const runtime = parts
    ? new StatefulRuntime<unknown, unknown>({ ...settings, parts: twoParts(run, { mode: process.env.POSITIONS === 'changelog' ? 'changelog' : 'group', answerMaxMs: Number(timeout) }) })
    : new ProcessManagerRuntime({ ...settings, definition: { ...fulfilment(Number(timeout)), ...positions } });
  await runtime.start();
  let owned = '';
  let failed = 0;
  for (;;) {
    const stats = runtime.stats();
    const now = stats.partitions.join(',');
    if (now !== owned) process.stdout.write(`owns ${now}\n`);
    owned = now;
    if (stats.transactionsFailed !== failed) process.stdout.write(`failed ${stats.transactionsFailed}\n`);
    failed = stats.transactionsFailed;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const hang = (): Promise<never> => new Promise<never>(() => undefined);

async function runProcessor(mode: string, stateDir: string, changedFold: boolean): Promise<void> {
  if (mode !== 'hang-after-commit' && mode !== 'run' && mode !== 'slow-restore') throw new Error(`unknown mode processor-${mode}`);
  const logger = rootLogger.child({ test: 'processor-crash-child' });
  logger.level = 'silent';
  const processor = new CommandProcessor({
    kafka: testKafka('processor-crash-child', logLevel.NOTHING),
    codec: new AvroCodec(testRegistry()),
    logger,
    context: { order: { maxOrderTotalMinor: 100_000 } },
    catalog: topicCatalog({ partitions: PROCESSOR_PARTITIONS }),
    stateDir,
    ...(process.env.STATE_CHANGELOG_EPOCH === undefined ? {} : { changelogEpoch: process.env.STATE_CHANGELOG_EPOCH }),
    // COMMAND_PARTITIONS_PER_WORKER: the runtime's task groups (as the role passes it).
    ...(process.env.COMMAND_PARTITIONS_PER_WORKER === undefined ? {} : { partitionsPerWorker: Number(process.env.COMMAND_PARTITIONS_PER_WORKER) }),
    ...(changedFold ? { aggregates: { order: changedOrderFold() } } : {}),
    ...(mode === 'hang-after-commit'
      ? {
          betweenCommitAndStore: async (partitions: readonly number[]) => {
            process.stdout.write(`committed ${partitions.join(',')}\n`);
            await hang(); // killed here, before the store write
          },
        }
      : {}),
    ...(mode === 'slow-restore'
      ? {
          restoreFetchBytes: 512,
          onRestoreProgress: async (topic: string, partition: number, offset: number) => {
            // The runtime's restore progress names no changelog (''): only the order snapshots hold records in these tests.
            process.stdout.write(`restoring ${topic || `${process.env.TOPIC_PREFIX ?? ''}.order.snapshots`} ${partition} ${offset}\n`);
            await new Promise((resolve) => setTimeout(resolve, 300));
          },
        }
      : {}),
  });
  await processor.start();
  for (;;) {
    const refused = processor.broken();
    if (refused !== undefined) {
      process.stdout.write(`refused ${refused}\n`);
      await hang();
    }
    if (processor.notReady() === undefined) {
      // The order aggregates its restored stores hold, before "ready" (restaurant_command_aggregates{form="held"}).
      process.stdout.write(`held ${processor.aggregatesHeld().get('order')?.held ?? 0}\n`);
      process.stdout.write('ready\n');
      await hang();
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
