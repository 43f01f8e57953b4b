// The command-processor role (docs/command-side.md "The command processor"):
// the command definitions on the stateful runtime (producers/command-processor/
// processor.ts), in the group `<TOPIC_PREFIX>.command-processor`, its stores
// under `<STATE_DIR>/<group>`, COMMAND_PARTITIONS_PER_WORKER as the runtime's
// task groups (k partitions per producer and transaction). COMMAND_ENGINE other
// than `runtime` is refused by roleConfig (roles.ts): the processor's own engine was removed.
import { join } from 'node:path';
import { commandMetricRecorder, heldAggregatesMetric, parkedAggregatesMetric } from '../producers/command-processor/metrics';
import { CommandProcessor, DEFAULT_GROUP } from '../producers/command-processor/processor';
import { orUndo, type Running, type RoleDeps } from './start';

export async function startCommandProcessor({ kafka, codec, logger, settings, metrics }: RoleDeps): Promise<Running> {
  const log = logger.child({ component: 'command-processor' });
  const processor = new CommandProcessor({
    kafka,
    codec,
    logger: log,
    context: { order: { maxOrderTotalMinor: settings.maxOrderTotalMinor } },
    metrics: commandMetricRecorder(metrics),
    ...(settings.stateDir === undefined ? {} : { stateDir: join(settings.stateDir, DEFAULT_GROUP) }),
    changelogEpoch: settings.changelogEpoch,
    partitionsPerWorker: settings.commandPartitionsPerWorker,
  });
  await orUndo(() => processor.start(), () => processor.stop());
  heldAggregatesMetric(metrics, () => processor.aggregatesHeld());
  parkedAggregatesMetric(metrics, () => processor.parkedAggregates());
  log.info({ topics: processor.commandTopics }, 'command processor started');
  return {
    name: 'command-processor',
    groups: () => [{ group: DEFAULT_GROUP, topics: processor.commandTopics }],
    readiness: [{ notReady: () => processor.notReady(), broken: () => processor.broken() }],
    stop: () => processor.stop(),
  };
}
