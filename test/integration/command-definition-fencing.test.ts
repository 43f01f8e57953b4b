/**
 * The runtime's `transactionalIdPrefix` (docs/stateful-runtime.md "Not done"): the command definition's runtime
 * given `<group>.p` uses the command processor's transactional id for task p (`restaurant.command-processor.p<p>`
 * with the catalog's group), so a producer initialised with the processor's id fences the runtime's task, as the
 * processor's worker would on taking the partition: the runtime's next transaction there fails as fenced, it
 * restores (fencing back), and the command is then decided once. Real Kafka and registry, topics of its own.
 */
import { logLevel } from 'kafkajs';
import { AvroCodec } from '../../infra/kafka/codec';
import { fencedProducer } from '../../infra/kafka/transactions';
import { rootLogger } from '../../infra/logging';
import { waitFor } from '../../infra/wait-for';
import type { StatefulRuntime } from '../../infra/stateful/runtime';
import type { CommandInput } from '../../producers/command-processor/command-definition';
import type { CommandState } from '../../producers/command-processor/command-state';
import { partitionFor } from '../../schemas/partitioning';
import { testKafka, testRegistry, unique } from '../support/kafka';
import { createProcessorTopics, deleteProcessorTopics, processorTopics } from '../support/processor-crash';
import { addItem, logProblems, open, orderCommandRuntime, readLog, sendCommands } from '../support/command-definition';

jest.setTimeout(180_000);

const kafka = testKafka('it-command-definition-fencing', logLevel.NOTHING);
const codec = new AvroCodec(testRegistry());
const logger = rootLogger.child({ test: 'command-definition-fencing' });
logger.level = 'silent';
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
const run = unique('it-cmddef-fence');
const t = processorTopics(run);
let runtime: StatefulRuntime<CommandState, CommandInput> | undefined;

beforeAll(async () => {
  await createProcessorTopics(kafka, codec, run);
  await producer.connect();
});

afterAll(async () => {
  await runtime?.stop();
  await producer.disconnect();
  await deleteProcessorTopics(kafka, run);
});

it("with the processor's transactional ids, a producer of the processor's id fences the runtime's task", async () => {
  const started = orderCommandRuntime({ kafka, codec, logger, run, transactionalIdPrefix: `${t.groupId}.p` });
  runtime = started;
  await started.start();
  await waitFor('the definition ready', async () => (started.notReady() === undefined ? true : undefined), 120_000);
  await sendCommands(producer, codec, run, [open('f-1')]);
  await waitFor('f-1 opened', async () => ((await readLog(kafka, codec, run)).replies.has('c-f-1') ? true : undefined), 60_000);
  expect(started.stats().transactionsFailed).toBe(0);
  const restores = started.stats().restores;

  // The processor's worker for f-1's partition would initialise this id: it fences the runtime's task.
  const processorWorker = await fencedProducer(kafka, `${t.groupId}.p${partitionFor('f-1', 2)}`);
  await processorWorker.disconnect();
  await sendCommands(producer, codec, run, [addItem('f-1', 'm-1')]);
  const log = await waitFor('f-1-m-1 answered', async () => {
    const found = await readLog(kafka, codec, run);
    return found.replies.has('c-f-1-m-1') ? found : undefined;
  }, 120_000);
  expect(started.stats().transactionsFailed).toBeGreaterThanOrEqual(1);
  expect(started.stats().restores).toBeGreaterThan(restores);
  expect(log.replies.get('c-f-1-m-1')).toEqual([expect.objectContaining({ status: 'ACCEPTED', aggregateVersion: 2 })]);
  expect(logProblems(log, t.events)).toEqual([]);
});
