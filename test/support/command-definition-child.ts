// A child process running the order aggregate's command definition on the
// stateful runtime (test/support/command-definition.ts), for the kill -9 test
// of test/integration/command-definition.test.ts:
//
//   node --import tsx test/support/command-definition-child.ts <run> <stateDir>
//
// prints "ready" once it owns its partitions, and "committed <partition>" when
// a round's transaction committed; it then hangs there, before the store write,
// to be killed.
import { logLevel } from 'kafkajs';
import { AvroCodec } from '../../infra/kafka/codec';
import { rootLogger } from '../../infra/logging';
import { testKafka, testRegistry } from './kafka';
import { orderCommandRuntime } from './command-definition';

async function main(): Promise<void> {
  const [run, stateDir] = process.argv.slice(2);
  if (!run || !stateDir) throw new Error('usage: command-definition-child <run> <stateDir>');
  const logger = rootLogger.child({ test: 'command-definition-child' });
  logger.level = 'silent';
  const runtime = orderCommandRuntime({
    kafka: testKafka('command-definition-child', logLevel.NOTHING),
    codec: new AvroCodec(testRegistry()),
    logger,
    run,
    stateDir,
    betweenCommitAndStore: async (partition) => {
      process.stdout.write(`committed ${partition}\n`);
      await new Promise<never>(() => undefined); // killed here, before the store write
    },
  });
  await runtime.start();
  for (;;) {
    if (runtime.notReady() === undefined) {
      process.stdout.write('ready\n');
      return new Promise<never>(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
