import type { CommandMetadata, CommandReply } from '../../../../schemas/generated/types';
import { loadSchemas } from '../../../../schemas/loader';
import { partitionFor } from '../../../../schemas/partitioning';
import { topicCatalog } from '../../../../schemas/topics';
import type { DecodedRecord, EmittedOffset, Outgoing } from '../../../../infra/stateful/definition';
import { aggregateRuntimes } from '../../../../producers/command-processor/aggregates';
import { AGGREGATE_PARKED, snapshotValue } from '../../../../producers/command-processor/command-records';
import { commandDefinition, type CommandInput } from '../../../../producers/command-processor/command-definition';
import type { CommandState } from '../../../../producers/command-processor/command-state';
import { partitionAnchor } from '../../../../producers/command-processor/reply-route';
import { runtimeFoldRefusal } from '../../../../infra/stateful/load';

const NOW = 1_767_225_600_000;
const order = aggregateRuntimes({ order: { maxOrderTotalMinor: 100_000 } }).order;
const catalog = topicCatalog({ partitions: 6 });
const definition = commandDefinition({ runtime: order, catalog, clock: () => NOW });
const schemas = loadSchemas();
const EVENTS = 'restaurant.order.events';

const meta = (commandId: string, aggregateId = 'o-1', expectedVersion: number | null = null): CommandMetadata => ({ commandId, aggregateId, correlationId: `k-${commandId}`, issuedAt: NOW, expectedVersion, actor: null });
const openOrder = (commandId: string, aggregateId = 'o-1'): CommandInput => ({ kind: 'command', type: 'OpenOrder', data: { customerId: 'c-1' }, metadata: meta(commandId, aggregateId) });
const addItem = (commandId: string, item: string, expectedVersion: number | null = null): CommandInput => ({
  kind: 'command',
  type: 'AddItemToOrder',
  data: { menuItemId: item, menuItemName: 'Soup', quantity: 1, unitPrice: { amountMinor: 500, currency: 'EUR' } },
  metadata: meta(commandId, 'o-1', expectedVersion),
});
const replyOf = (o: Outgoing): CommandReply => o.value as CommandReply;
const landed = (emit: readonly Outgoing[], base: number): EmittedOffset[] => emit.map((o, i) => ({ topic: o.topic, partition: 0, offset: base + i, id: o.id }));

/** Decides and completes as the runtime does after the transaction: the state with the reply carrying the events' offsets. */
function decided(input: CommandInput, state: CommandState, base = 100) {
  const decision = definition.decide(input, state);
  const offsets = landed(decision.emit.filter((o) => o.topic === EVENTS), base);
  const completed = decision.completeState?.(decision.state, offsets) ?? decision.state;
  return { decision, completed, replies: [...decision.emit.filter((o) => o.topic !== EVENTS), ...(decision.after?.(offsets, completed) ?? [])] };
}

describe("the command processor's definition", () => {
  it('writes events as the processor does and a reply carrying their offsets, remembered with them', () => {
    const { decision, completed, replies } = decided(openOrder('c-1'), definition.initialState('o-1'));
    expect(decision.changed).toBe(true);
    expect(decision.emit).toEqual([expect.objectContaining({ topic: EVENTS, key: 'o-1/1', partitionKey: 'o-1', recordName: 'restaurant.order.OrderOpened', type: 'OrderOpened', headers: expect.objectContaining({ 'event-type': 'OrderOpened' }) })]);
    expect(replies).toHaveLength(1);
    const [reply] = replies as [Outgoing];
    expect(reply).toMatchObject({ topic: 'restaurant.command-replies', key: 'c-1', headers: { 'reply-status': 'ACCEPTED' } });
    expect(replyOf(reply).events).toEqual([{ eventType: 'OrderOpened', aggregateId: 'o-1', version: 1, topic: EVENTS, partition: partitionFor('o-1', 6), offset: 100 }]);
    // The reply goes where the processor puts it: partition p mod R of the replies topic.
    expect(partitionFor(reply.partitionKey, 6)).toBe(partitionFor('o-1', 6));
    expect(completed.recentCommands).toEqual([replyOf(reply)]);
    expect(decision.state.recentCommands[0]?.events).toEqual([]);
  });

  it('keeps a state that encodes to the snapshot record the processor writes, and reads it back', () => {
    const opened = decided(openOrder('c-1'), definition.initialState('o-1')).completed;
    const { completed } = decided(addItem('c-2', 'm-1'), opened, 200);
    const type = schemas.get(order.snapshotRecord).type;
    const bytes = type.toBuffer(completed);
    expect(bytes.equals(type.toBuffer(snapshotValue(order, 'o-1', completed)))).toBe(true);
    const back = definition.fromStateRecord(type.fromBuffer(bytes));
    expect(back.version).toBe(2);
    expect(back.recentCommands).toEqual(completed.recentCommands);
    expect(decided(addItem('c-3', 'm-2'), back).decision.emit[0]?.key).toBe('o-1/3');
  });

  it('answers a repeat with the first reply: from memory when final, from the completed state when decided in the same round', () => {
    const first = decided(openOrder('c-1'), definition.initialState('o-1'));
    const later = definition.decide(openOrder('c-1'), first.completed);
    expect(later.changed).toBe(false);
    expect(later.emit.map(replyOf)).toEqual([first.replies[0] && replyOf(first.replies[0])]);
    // Same round: the state as decided, the reply without its offsets until the round completes it.
    const sameRound = definition.decide(openOrder('c-1'), first.decision.state);
    expect(sameRound.changed).toBe(true);
    expect(sameRound.emit).toEqual([]);
    expect(sameRound.after?.([], first.completed).map(replyOf)).toEqual([first.replies[0] && replyOf(first.replies[0])]);
  });

  it('answers without persisting what concerns no aggregate, and rejects a stale If-Match', () => {
    const missing = definition.decide(addItem('c-9', 'm-1'), definition.initialState('o-1'));
    expect(missing).toMatchObject({ changed: false, emit: [expect.objectContaining({ key: 'c-9' })] });
    expect(replyOf(missing.emit[0] as Outgoing)).toMatchObject({ status: 'REJECTED', rejectionCode: 'order_not_found', aggregateVersion: 0 });
    const opened = decided(openOrder('c-1'), definition.initialState('o-1')).completed;
    const stale = definition.decide(addItem('c-2', 'm-1', 0), opened);
    expect(stale.changed).toBe(true);
    expect(replyOf(stale.emit[0] as Outgoing)).toMatchObject({ status: 'REJECTED', rejectionCode: 'version_conflict', aggregateVersion: 1 });
  });

  it('refuses a command of a parked aggregate with aggregate_parked, and makes a foreign record its fault', () => {
    const record = { topic: 'restaurant.order.commands', partition: 0, offset: 7, key: Buffer.from('o-1'), rawValue: null, headers: {}, type: 'AddItemToOrder', fullName: 'restaurant.order.AddItemToOrder', value: { metadata: meta('c-5') } } as unknown as DecodedRecord;
    const parked = { processId: 'o-1', reason: 'schema-not-found', error: 'x', head: 'restaurant.order.commands:0:3', headType: '', inputs: 1, parkedAt: NOW };
    const opened = decided(openOrder('c-1'), definition.initialState('o-1')).completed;
    const [answer] = definition.parking?.refuseBehind?.(record, parked, opened) ?? [];
    expect(replyOf(answer as Outgoing)).toMatchObject({ commandId: 'c-5', status: 'REJECTED', rejectionCode: AGGREGATE_PARKED, aggregateVersion: 1 });
    const [none] = definition.parking?.refuseBehind?.(record, parked, undefined) ?? [];
    expect(replyOf(none as Outgoing)).toMatchObject({ rejectionCode: AGGREGATE_PARKED, aggregateVersion: 0 });
    expect(definition.parking?.processIdOfKey?.('request/1')).toBeUndefined();
    expect(() => definition.decide({ kind: 'foreign', aggregateId: 'o-1', fullName: 'restaurant.menu.CreateMenuItem', where: 'x' }, definition.initialState('o-1'))).toThrow(/not a command of order/);
  });

  it('does the same for another aggregate (a menu item): its snapshot record, events and forbidden commands', () => {
    const menu = aggregateRuntimes({ order: { maxOrderTotalMinor: 100_000 } }).menu;
    const menuDefinition = commandDefinition({ runtime: menu, catalog, clock: () => NOW });
    const add = (actor: CommandMetadata['actor']): CommandInput => ({
      kind: 'command',
      type: 'AddMenuItem',
      data: { name: 'Soup', description: 'Hot', category: 'MAIN', price: { amountMinor: 500, currency: 'EUR' } },
      metadata: { ...meta('c-m', 'm-1'), actor },
    });
    const decision = menuDefinition.decide(add(null), menuDefinition.initialState('m-1'));
    expect(decision.emit.map((o) => [o.topic, o.key, o.type])).toEqual([['restaurant.menu.events', 'm-1/1', 'MenuItemAdded']]);
    const completed = decision.completeState?.(decision.state, [{ topic: 'restaurant.menu.events', partition: 0, offset: 5, id: decision.emit[0]?.id ?? '' }]) ?? decision.state;
    const type = schemas.get(menu.snapshotRecord).type;
    expect(type.toBuffer(completed).equals(type.toBuffer(snapshotValue(menu, 'm-1', completed)))).toBe(true);
    expect(menuDefinition.fromStateRecord(type.fromBuffer(type.toBuffer(completed)))).toMatchObject({ version: 1, menuItemId: 'm-1', name: 'Soup' });
    // A customer may not add menu items: answered `forbidden`, nothing persisted.
    const forbidden = menuDefinition.decide(add({ subject: 'c-1', roles: ['customer'] }), menuDefinition.initialState('m-1'));
    expect(forbidden.changed).toBe(false);
    expect(replyOf(forbidden.emit[0] as Outgoing)).toMatchObject({ status: 'REJECTED', rejectionCode: 'forbidden', aggregateVersion: 0 });
  });

  it("refuses a stale fold with the processor's words and snapshots:rebuild advice, not the runtime's states:migrate", () => {
    const at = { changelog: 'restaurant.order.snapshots', partition: 2, foldVersion: 2, groupId: 'restaurant.command-processor' };
    const records = { ...at, kind: 'records' as const, count: 6, versions: [1] };
    expect(definition.foldRefusal?.(records)).toBe(
      "command processor: 6 snapshot(s) of restaurant.order.snapshots[2] folded by fold version 1, this build's order fold is version 2; deciding on them would decide on stale state. " +
        'Stop every command processor, run `npm run snapshots:rebuild -- order` (rebuilds the snapshots from the events topic with this build\'s fold), then start this build with a new STATE_CHANGELOG_EPOCH (docs/command-side.md "Fold versions").',
    );
    expect(definition.foldRefusal?.({ ...at, kind: 'store', stored: 1 })).toMatch(/^command processor: the stored snapshots of restaurant\.order\.snapshots\[2\] folded by fold version 1, this build's order fold is version 2; .*snapshots:rebuild -- order/);
    // The runtime's own (what load.ts says for a definition without `foldRefusal`, the process managers').
    expect(runtimeFoldRefusal(definition.name, records)).toMatch(
      /^order-commands: 6 state\(s\) of restaurant\.order\.snapshots\[2\] were folded by fold version 1, this build's fold is version 2; .*Stop every instance of restaurant\.command-processor, run `npm run states:migrate -- order-commands`/,
    );
  });

  it('finds a partitioning key for every replies partition', () => {
    for (const partitions of [1, 2, 6, 12]) for (let p = 0; p < partitions; p += 1) expect(partitionFor(partitionAnchor(p, partitions), partitions)).toBe(p);
  });
});
