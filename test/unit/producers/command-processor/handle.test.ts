import type { Actor, CommandMetadata } from '../../../../schemas/generated/types';
import { aggregateRuntimes } from '../../../../producers/command-processor/aggregates';
import { handleCommand, RECENT_COMMANDS, VERSION_CONFLICT, withReply, type AggregateEntry } from '../../../../producers/command-processor/handle';
import { deterministicId } from '../../../../kernel/deterministic-id';

const runtimes = aggregateRuntimes({ order: { maxOrderTotalMinor: 100_000 } });
const NOW = 1_767_225_600_000;
const owner: Actor = { subject: 'c-1', roles: ['customer'] };
const meta = (commandId: string, expectedVersion: number | null = null, actor: Actor | null = owner): CommandMetadata => ({
  commandId,
  aggregateId: 'o-1',
  correlationId: `corr-${commandId}`,
  issuedAt: NOW,
  expectedVersion,
  actor,
});
const open = { type: 'OpenOrder', data: { customerId: 'c-1' } };
const addItem = (menuItemId: string) => ({
  type: 'AddItemToOrder',
  data: { menuItemId, menuItemName: 'Margherita', quantity: 2, unitPrice: { amountMinor: 950, currency: 'EUR' } },
});

/** Decides and, like the runtime after a commit, remembers the reply. */
function decideAndKeep(entry: AggregateEntry | undefined, command: { type: string; data: object }, metadata: CommandMetadata) {
  const handled = handleCommand(runtimes.order, entry, command, metadata, NOW);
  const kept = handled.entry && handled.reply.status === 'ACCEPTED' && !handled.duplicate ? withReply(handled.entry, handled.reply) : handled.entry;
  return { handled, entry: kept };
}

describe('deciding a command in the processor', () => {
  it('numbers events after the current version and gives them ids derived from the command', () => {
    const first = decideAndKeep(undefined, open, meta('cmd-1'));
    expect(first.handled.events.map((e) => [e.type, e.version])).toEqual([['OrderOpened', 1]]);
    const second = decideAndKeep(first.entry, addItem('m-1'), meta('cmd-2'));
    expect(second.handled.events.map((e) => [e.type, e.version])).toEqual([['ItemAddedToOrder', 2]]);
    expect(second.handled.events[0]?.record.metadata).toEqual({
      eventId: deterministicId('cmd-2', '0'),
      aggregateId: 'o-1',
      version: 2,
      occurredAt: NOW,
      commandId: 'cmd-2',
      correlationId: 'corr-cmd-2',
      causationId: 'cmd-2',
      actor: { subject: 'c-1', roles: ['customer'] },
    });
    expect(second.handled.reply).toMatchObject({ status: 'ACCEPTED', aggregateVersion: 2, commandType: 'AddItemToOrder' });
  });

  it('returns the first outcome for a repeated commandId and writes nothing', () => {
    const first = decideAndKeep(undefined, open, meta('cmd-1'));
    const again = handleCommand(runtimes.order, first.entry, open, meta('cmd-1'), NOW + 1000);
    expect(again.duplicate).toBe(true);
    expect(again.events).toEqual([]);
    expect(again.reply).toEqual(first.handled.reply);
    // A different command with the same content is not a duplicate: it is decided (and rejected: the order exists).
    const other = handleCommand(runtimes.order, first.entry, open, meta('cmd-9'), NOW);
    expect(other.duplicate).toBe(false);
    expect(other.reply.status).toBe('REJECTED');
  });

  it('treats the same command again before its transaction is written as a duplicate (a retry that reached the topic twice)', () => {
    const opened = decideAndKeep(undefined, open, meta('cmd-1'));
    // Decided, not yet written: the entry as the processor carries it to the next command of the same batch.
    const first = handleCommand(runtimes.order, opened.entry, addItem('m-1'), meta('cmd-2'), NOW);
    expect(first.events.map((e) => e.version)).toEqual([2]);
    const again = handleCommand(runtimes.order, first.entry, addItem('m-1'), meta('cmd-2'), NOW + 5);
    expect(again.duplicate).toBe(true);
    expect(again.events).toEqual([]);
    // Written: the final reply takes the place of the one remembered at the decision, once.
    const final = { ...first.reply, events: [{ eventType: 'ItemAddedToOrder', aggregateId: 'o-1', version: 2, topic: 'restaurant.order.events', partition: 0, offset: 41 }] };
    const kept = withReply(first.entry as AggregateEntry, final);
    expect(kept.recentCommands.filter((r) => r.commandId === 'cmd-2')).toEqual([final]);
    expect(handleCommand(runtimes.order, kept, addItem('m-1'), meta('cmd-2'), NOW + 10).reply).toEqual(final);
  });

  it('remembers rejections of an existing aggregate, so a retry gets the same answer', () => {
    const opened = decideAndKeep(undefined, open, meta('cmd-1'));
    const rejected = decideAndKeep(opened.entry, { type: 'PlaceOrder', data: {} }, meta('cmd-2'));
    expect(rejected.handled.reply).toMatchObject({ status: 'REJECTED', rejectionCode: 'empty_order' });
    const retried = handleCommand(runtimes.order, rejected.entry, { type: 'PlaceOrder', data: {} }, meta('cmd-2'), NOW);
    expect(retried.duplicate).toBe(true);
    expect(retried.reply.rejectionCode).toBe('empty_order');
  });

  it('rejects an If-Match version that is not the current one, without deciding', () => {
    const opened = decideAndKeep(undefined, open, meta('cmd-1'));
    const stale = handleCommand(runtimes.order, opened.entry, addItem('m-1'), meta('cmd-2', 0), NOW);
    expect(stale.reply).toMatchObject({ status: 'REJECTED', rejectionCode: VERSION_CONFLICT, aggregateVersion: 1 });
    expect(stale.events).toEqual([]);
    const current = handleCommand(runtimes.order, opened.entry, addItem('m-1'), meta('cmd-3', 1), NOW);
    expect(current.reply.status).toBe('ACCEPTED');
  });

  it('keeps a bounded memory of replies', () => {
    let entry = decideAndKeep(undefined, open, meta('cmd-0')).entry;
    for (let i = 1; i <= RECENT_COMMANDS + 5; i += 1) entry = decideAndKeep(entry, { type: 'PlaceOrder', data: {} }, meta(`cmd-${i}`)).entry;
    expect(entry?.recentCommands).toHaveLength(RECENT_COMMANDS);
    expect(entry?.recentCommands[0]?.commandId).toBe('cmd-6');
  });

  it('does not create state for a rejected command on a missing aggregate', () => {
    const admin: Actor = { subject: 'admin-1', roles: ['admin'] };
    const missing = handleCommand(runtimes.order, undefined, { type: 'PlaceOrder', data: {} }, meta('cmd-1', null, admin), NOW);
    expect(missing.reply).toMatchObject({ status: 'REJECTED', rejectionCode: 'order_not_found', aggregateVersion: 0 });
    expect(missing.entry).toBeUndefined();
  });

  it('refuses another customer before the version check, revealing no version and remembering nothing', () => {
    const opened = decideAndKeep(undefined, open, meta('cmd-1')).entry;
    const other: Actor = { subject: 'c-2', roles: ['customer'] };
    const handled = handleCommand(runtimes.order, opened, { type: 'PlaceOrder', data: {} }, meta('cmd-2', 0, other), NOW);
    expect(handled.reply).toMatchObject({ status: 'REJECTED', rejectionCode: 'forbidden', aggregateVersion: 0 });
    expect(handled.events).toEqual([]);
    // Nothing to persist: no snapshot, no remembered reply.
    expect(handled.entry).toBeUndefined();
  });

  it('answers a customer on a missing order exactly as on another customer\'s order', () => {
    const other: Actor = { subject: 'c-2', roles: ['customer'] };
    const opened = decideAndKeep(undefined, open, meta('cmd-1')).entry;
    const onExisting = handleCommand(runtimes.order, opened, { type: 'PlaceOrder', data: {} }, meta('cmd-2', 3, other), NOW).reply;
    const onMissing = handleCommand(runtimes.order, undefined, { type: 'PlaceOrder', data: {} }, meta('cmd-2', 3, other), NOW).reply;
    expect(onMissing).toEqual(onExisting);
  });

  it("answers forbidden, not the first reply, when another customer reuses a commandId of the owner's", () => {
    const opened = decideAndKeep(undefined, open, meta('cmd-1')).entry;
    const other: Actor = { subject: 'c-2', roles: ['customer'] };
    const reused = handleCommand(runtimes.order, opened, open, meta('cmd-1', null, other), NOW);
    expect(reused).toMatchObject({ duplicate: false, reply: { status: 'REJECTED', rejectionCode: 'forbidden' } });
    // The owner's repeat is still a duplicate with the first reply.
    const repeat = handleCommand(runtimes.order, opened, open, meta('cmd-1'), NOW);
    expect(repeat).toMatchObject({ duplicate: true, reply: { status: 'ACCEPTED', aggregateVersion: 1 } });
  });

  it('lets a command without an actor through (written before actors were recorded) and records null on its events', () => {
    const handled = handleCommand(runtimes.order, undefined, open, meta('cmd-1', null, null), NOW);
    expect(handled.reply.status).toBe('ACCEPTED');
    expect(handled.events[0]?.record.metadata.actor).toBeNull();
  });
});
