// The dead-letter tools for the process managers (docs/operations.md
// "Parked processes"): `npm run dlq` and the admin API name a process manager
// (or its consumer group) where they name a read model, and land here. The
// work is the stateful runtime's (infra/stateful/parked-tools.ts: read the
// parked topic, write a request, wait for the action the runtime records);
// this file maps a process manager to its topics and gives the answers the
// shapes the projections' redrive gives (consumers/projections/redrive/).
import { PAYMENT_SIMULATOR_GROUP } from '../../payment-simulator/payment-simulator.process';
import { LOYALTY_GROUP } from '../../loyalty/loyalty.process';
import { ORDER_FULFILMENT_GROUP } from '../order-fulfilment/order-fulfilment.process';
import { DEAD_LETTER_ACTIONS_TOPIC, PROCESS_MANAGERS, topicCatalog, type CommandParkingName, type ProcessManagerName, type TopicCatalog } from '../../../schemas/topics';
import { listParkedProcesses, requestAndWait, showParkedProcess, type ListedProcess, type ParkingTarget, type ShownProcess, type ToolContext } from '../../../infra/stateful/parked-tools';
import type { Producer } from 'kafkajs';
import { commandParkingTargetOf, isCommandParking } from '../../../producers/command-processor/parking-target';
import type { RedriveSelection } from '../../projections/redrive/actions';
import type { RedriveOutcome, SkipOutcome } from '../../projections/redrive/redrive';

export const PROCESS_MANAGER_GROUPS: Readonly<Record<ProcessManagerName, string>> = {
  'order-fulfilment': ORDER_FULFILMENT_GROUP,
  loyalty: LOYALTY_GROUP,
  'payment-simulator': PAYMENT_SIMULATOR_GROUP,
};

/** The process manager a name or consumer group names; undefined for none. */
export function processManagerOf(nameOrGroup: string): ProcessManagerName | undefined {
  return PROCESS_MANAGERS.find((pm) => pm === nameOrGroup || PROCESS_MANAGER_GROUPS[pm] === nameOrGroup);
}

/** What parks on a topic of its own and is redriven by its runtime: a process manager, or the command processor's commands of one aggregate type. */
export type ParkedRuntimeName = ProcessManagerName | CommandParkingName;

/** Where a process manager's (or the command processor's) parking is; `topicMap` and `groupId` for one on topics of its own (tests). */
export function parkingTargetOf(pm: ParkedRuntimeName, options: { readonly catalog?: TopicCatalog; readonly topicMap?: Readonly<Record<string, string>>; readonly groupId?: string } = {}): ParkingTarget {
  if (isCommandParking(pm)) return commandParkingTargetOf(pm, options);
  const catalog = options.catalog ?? topicCatalog();
  const physical = (topic: string): string => options.topicMap?.[topic] ?? topic;
  const parked = catalog.parked(pm);
  const actions = catalog.topic(DEAD_LETTER_ACTIONS_TOPIC);
  return {
    name: pm,
    groupId: options.groupId ?? PROCESS_MANAGER_GROUPS[pm],
    parked: { logical: parked.name, physical: physical(parked.name), partitions: parked.partitions },
    actions: { physical: physical(actions.name), partitions: actions.partitions },
  };
}

export type Targets = (pm: ParkedRuntimeName) => ParkingTarget;

export interface ProcessActionContext extends ToolContext {
  readonly producer: Producer;
  readonly actor: string;
  readonly why: string;
  readonly timeoutMs?: number;
}

export const listProcesses = (ctx: ToolContext, target: ParkingTarget, filter: { readonly reason?: string | undefined; readonly processId?: string | undefined }): Promise<ListedProcess[]> =>
  listParkedProcesses(ctx, target, filter);

export const showProcess = (ctx: ToolContext, target: ParkingTarget, processId: string): Promise<ShownProcess | undefined> => showParkedProcess(ctx, target, processId);

const options = (ctx: ProcessActionContext) => ({ actor: ctx.actor, why: ctx.why, ...(ctx.timeoutMs === undefined ? {} : { timeoutMs: ctx.timeoutMs }) });

/**
 * Redrives the selected parked processes one by one (oldest parked first):
 * each is decided by the runtime that owns it, in its transaction, and
 * recorded by it on the actions topic.
 */
export async function redriveProcesses(ctx: ProcessActionContext, target: ParkingTarget, selection: RedriveSelection): Promise<RedriveOutcome[]> {
  const ids =
    'aggregateId' in selection
      ? [selection.aggregateId]
      : (await listParkedProcesses(ctx, target, 'reason' in selection ? { reason: selection.reason } : {})).map((p) => p.processId);
  const outcomes: RedriveOutcome[] = [];
  for (const processId of ids) {
    const action = await requestAndWait(ctx, target, { action: 'redrive', processId, position: null }, options(ctx));
    const outcome = action.outcome === 'redriven' || action.outcome === 'failed' ? action.outcome : 'not-parked';
    outcomes.push({ aggregateId: processId, outcome, events: action.events, applied: action.applied, ...(action.detail === null ? {} : { error: action.detail }) });
  }
  return outcomes;
}

/** Skips one parked input of a process (default its head) without deciding it; a reason is required. */
export async function skipProcessInput(ctx: ProcessActionContext, target: ParkingTarget, processId: string, position: string | undefined): Promise<SkipOutcome> {
  const before = await showParkedProcess(ctx, target, processId);
  const action = await requestAndWait(ctx, target, { action: 'skip', processId, position: position ?? null }, options(ctx));
  const outcome = action.outcome === 'skipped' ? 'skipped' : 'not-parked';
  return { aggregateId: processId, outcome, events: action.events, unparked: outcome === 'skipped' && before?.chain.length === 1 };
}
