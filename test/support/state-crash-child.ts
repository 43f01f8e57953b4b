// A partition task cut down to what the state-store crash tests kill -9
// (test/integration/state-store-crash.test.ts). Prints one line per step on
// stdout; the test kills it at the step it is testing.
//
//   node --import tsx test/support/state-crash-child.ts restore <dir> <topic>
//     restores slowly (one small batch at a time, written where
//     STATE_RESTORE_WRITER says: inline or on the worker thread of
//     infra/state/store-writer.ts), printing "progress <offset>"
//   node --import tsx test/support/state-crash-child.ts commit-then-hang <dir> <topic> <transactionalId>
//     restores, commits one changelog transaction, prints "committed", and
//     hangs before writing its store (the crash point between the two)
import { fencedProducer } from '../../infra/kafka/transactions';
import { FOLD_VERSION_HEADER } from '../../infra/state/changelog-restore';
import { openAndRestore } from '../../infra/state/open-store';
import { testKafka } from './kafka';

async function main(): Promise<void> {
  const [mode, dir, topic, transactionalId] = process.argv.slice(2);
  if (!mode || !dir || !topic) throw new Error('usage: state-crash-child <restore|commit-then-hang> <dir> <topic> [transactionalId]');
  const kafka = testKafka('state-crash-child');
  const identity = { topic, partition: 0, epoch: 'e1', foldVersion: 1 };
  if (mode === 'restore') {
    await openAndRestore(kafka, dir, identity, {
      decode: (bytes) => bytes.toString(),
      fetchBytes: 512,
      // Where the writes run comes from STATE_RESTORE_WRITER (the test runs both): a kill -9 with batches in flight to the writer thread must leave a prefix too.
      onProgress: async ({ offset }) => {
        process.stdout.write(`progress ${offset}\n`);
        await new Promise<void>((resolve) => setTimeout(resolve, 200)); // slow enough to be killed part-way
      },
    });
    process.stdout.write('restored\n');
    return;
  }
  if (mode === 'commit-then-hang' && transactionalId) {
    const opened = await openAndRestore(kafka, dir, identity, { decode: (bytes) => bytes.toString() });
    if (opened.kind !== 'ready') throw new Error(opened.message);
    const producer = await fencedProducer(kafka, transactionalId);
    const txn = await producer.transaction();
    await txn.send({ topic, messages: [{ key: 'decided-then-killed', value: 'committed', partition: 0, headers: { [FOLD_VERSION_HEADER]: '1' } }] });
    await txn.commit();
    process.stdout.write('committed\n');
    await new Promise<never>(() => undefined); // killed here, before opened.store.apply(...)
  }
  throw new Error(`unknown mode ${mode}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
