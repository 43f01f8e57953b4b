// The command-processor role on the stateful runtime (COMMAND_ENGINE=runtime;
// docs/command-side.md "The processor on the runtime (opt-in)"): the same group,
// state directory, epoch, readiness and metrics as the processor's own engine
// (start.ts), COMMAND_PARTITIONS_PER_WORKER as the runtime's task groups (k partitions per producer and transaction).
import { join } from 'node:path';
import { commandMetricRecorder, heldAggregatesMetric, parkedAggregatesMetric } from '../producers/command-processor/metrics';
import { DEFAULT_GROUP } from '../producers/command-processor/processor';
import { CommandProcessorOnRuntime } from '../producers/command-processor/processor-on-runtime';
import { orUndo, type Running, type RoleDeps } from './start';

export async function startCommandProcessorOnRuntime({ kafka, codec, logger, settings, metrics }: RoleDeps): Promise<Running> {
  const log = logger.child({ component: 'command-processor', engine: 'runtime' });
  const processor = new CommandProcessorOnRuntime({
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
  log.info({ topics: processor.commandTopics }, 'command processor started on the stateful runtime');
  return {
    name: 'command-processor',
    groups: () => [{ group: DEFAULT_GROUP, topics: processor.commandTopics }],
    readiness: [{ notReady: () => processor.notReady(), broken: () => processor.broken() }],
    stop: () => processor.stop(),
  };
}
