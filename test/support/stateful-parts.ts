// A runtime of two definitions per task on a test's own topics (docs/stateful-runtime.md
// "Several definitions per task"): order fulfilment and the payment provider's simulator,
// which talk through Kafka (fulfilment asks for payments, the simulator answers them as
// deadlines, fulfilment confirms the orders). Shared by test/integration/stateful-parts.test.ts
// and its crash child (stateful-crash-child.ts, PARTS=1).
import type { Kafka } from 'kafkajs';
import { paymentSimulatorProcess } from '../../consumers/payment-simulator/payment-simulator.process';
import { statefulPart, type StatefulPart } from '../../infra/stateful/runtime';
import type { PositionsMode } from '../../infra/stateful/position-store';
import { dlqTopicName, paymentTopicName, topicCatalog } from '../../schemas/topics';
import { createTopicsAndWait } from './kafka';
import { fulfilmentTopicNames, fulfilmentTopics } from './process-managers';
import { fulfilment } from './stateful-crash';
import type { FulfilmentInput } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.workflow';
import type { ProcessDefinition } from '../../consumers/process-managers/runtime/definition';
import type { OrderFulfilmentState } from '../../schemas/generated/types';

const catalog = topicCatalog();
export const FULFILMENT_CHANGELOG = catalog.changelog('order-fulfilment').name;
export const SIMULATOR_CHANGELOG = catalog.changelog('payment-simulator').name;

export const FULFILMENT_PARKED = catalog.parked('order-fulfilment').name;
export const SIMULATOR_PARKED = catalog.parked('payment-simulator').name;

/** The topics of a run: order fulfilment's, the simulator's changelog, the payment requests' DLQ; with `parking`, both parts' parked topics too. */
export function partsTopics(run: string, options: { readonly parking?: boolean } = {}) {
  const made = fulfilmentTopics(run, options);
  const simulatorChangelog = `${run}.payment-simulator.changelog`;
  const simulatorParked = `${run}.payment-simulator.parked`;
  const topicMap = { ...made.topicMap, [SIMULATOR_CHANGELOG]: simulatorChangelog, ...(made.parking ? { [SIMULATOR_PARKED]: simulatorParked } : {}) };
  return { ...made, simulatorChangelog, simulatorParked, topicMap, groupId: `${run}.parts` };
}

export type PartsTopics = ReturnType<typeof partsTopics>;

const parkedOf = (made: PartsTopics): string[] => (made.parking ? [made.simulatorParked] : []);

export const partsTopicNames = (made: PartsTopics): string[] => [
  ...fulfilmentTopicNames(made),
  made.simulatorChangelog,
  dlqTopicName(made.topics.paymentRequests),
  ...parkedOf(made).flatMap((t) => [t, dlqTopicName(t)]),
];

export async function createPartsTopics(kafka: Kafka, made: PartsTopics, partitions = 6): Promise<void> {
  const compacted = [made.topics.changelog, made.simulatorChangelog, ...(made.parking ? [made.topics.parked, made.simulatorParked] : [])];
  const plain = partsTopicNames(made).filter((t) => !compacted.includes(t));
  await createTopicsAndWait(kafka, [
    ...plain.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })),
    ...compacted.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] })),
  ]);
}

/**
 * The two parts: order fulfilment (payments never time out) and the simulator
 * (every payment authorized, `answerMaxMs` at most after its request), both
 * keeping their positions per `mode`; `simulatorFold` its fold version.
 */
export function twoParts(
  seed: string,
  options: {
    readonly mode?: PositionsMode;
    readonly simulatorFold?: number;
    readonly answerMaxMs?: number;
    /** Both parts park, each on its own parked topic. */
    readonly parking?: boolean;
    /** Each part's outputs sequenced (docs/stateful-runtime.md "Sequenced outputs"): fulfilment's payment requests, the simulator's results. */
    readonly sequenced?: boolean;
    /** Order fulfilment as the test wants it (e.g. with a bug). */
    readonly fulfilment?: ProcessDefinition<OrderFulfilmentState, FulfilmentInput>;
  } = {},
): StatefulPart[] {
  const mode = options.mode ?? 'group';
  const parked = (topic: string) => (options.parking === true ? { parkedTopic: topic } : {});
  const sequenced = (topic: string) => (options.sequenced === true ? { sequenced: [topic] } : {});
  const delay = { minMs: 20, maxMs: options.answerMaxMs ?? 200 };
  const simulator = paymentSimulatorProcess({ seed, config: { declineShare: 0, stallShare: 0, answerDelay: delay, refundDelay: delay } });
  return [
    statefulPart({ definition: { ...(options.fulfilment ?? fulfilment(600_000)), positions: mode, ...sequenced(paymentTopicName('requests')) }, changelog: FULFILMENT_CHANGELOG, ...parked(FULFILMENT_PARKED) }),
    statefulPart({ definition: { ...simulator, positions: mode, foldVersion: options.simulatorFold ?? 1, ...sequenced(paymentTopicName('results')) }, changelog: SIMULATOR_CHANGELOG, ...parked(SIMULATOR_PARKED) }),
  ];
}
