/**
 * Ownership and the audit trail on the real stack, without HTTP: commands with
 * actors are written to the commands topics through the project's Kafka command
 * bus, a real command-processor process decides them, and the events topic is
 * read back and decoded. A customer's command on another customer's order is
 * refused `forbidden` and writes nothing; their own commands are accepted and
 * every event they cause records them as its actor; the kitchen's step is
 * recorded with the kitchen's actor. Likewise a customer signs up (reserving
 * the email) only as themself and changes only their own profile.
 */
import { randomUUID } from 'node:crypto';
import { logLevel } from 'kafkajs';
import { KafkaCommandBus } from '../../producers/command-bus/kafka-command-bus';
import type { CommandEnvelope, CommandOutcome } from '../../producers/gateway/command-bus';
import { AvroCodec } from '../../infra/kafka/codec';
import { rootLogger } from '../../infra/logging';
import type { Actor } from '../../schemas/generated/types';
import type { DomainCommand, OrderCommand } from '../../schemas/messages';
import { systemActor } from '../../schemas/roles';
import { topicName } from '../../schemas/topics';
import { readEvents, type StoredEvent } from '../support/events';
import { testKafka, testRegistry, unique } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';
import { startRole, type RoleProcess } from '../../app/chaos/role-process';

jest.setTimeout(180_000);

const kafka = testKafka('it-ownership', logLevel.NOTHING);
const logger = rootLogger.child({ test: 'ownership' });
logger.level = 'silent';
const bus = new KafkaCommandBus({ kafka, codec: new AvroCodec(testRegistry()), logger });
let processor: RoleProcess | undefined;

const ada: Actor = { subject: unique('c-ada'), roles: ['customer'] };
const bob: Actor = { subject: unique('c-bob'), roles: ['customer'] };
const kitchen: Actor = { subject: unique('k'), roles: ['kitchen'] };
const fulfilment = systemActor('order-fulfilment');
const adaOrder = unique('o-ada');
const bobOrder = unique('o-bob');

const address = { line1: 'Dam 1', line2: null, city: 'Amsterdam', postalCode: '1012 JS', country: 'NL' };
const soup: OrderCommand = {
  type: 'AddItemToOrder',
  data: { menuItemId: 'm-soup', menuItemName: 'Soup', quantity: 2, unitPrice: { amountMinor: 450, currency: 'EUR' } },
};

type Final = Exclude<CommandOutcome, { status: 'pending' }>;

/** Sends a command as `actor` and waits for its final outcome. */
async function sendTo(aggregate: CommandEnvelope['aggregate'], actor: Actor, aggregateId: string, command: DomainCommand, expectedVersion: number | null = null): Promise<Final> {
  const envelope: CommandEnvelope = {
    aggregate,
    command,
    metadata: { commandId: randomUUID(), aggregateId, correlationId: randomUUID(), issuedAt: Date.now(), expectedVersion, actor },
  };
  const first = await bus.send(envelope, { waitMs: 20_000 });
  if (first.status !== 'pending') return first;
  // The processor may still be joining its group: the reply comes later.
  return waitFor(`the outcome of ${command.type} on ${aggregateId}`, async () => {
    const outcome = await bus.outcome(envelope.metadata.commandId);
    return outcome === undefined || outcome.status === 'pending' ? undefined : outcome;
  }, 60_000);
}

const send = (actor: Actor, orderId: string, command: OrderCommand, expectedVersion: number | null = null): Promise<Final> =>
  sendTo('order', actor, orderId, command, expectedVersion);

async function orderEvents(orderId: string): Promise<StoredEvent[]> {
  const all = await readEvents(kafka, topicName('order', 'events'));
  return all.filter((e) => e.metadata.aggregateId === orderId).sort((a, b) => a.metadata.version - b.metadata.version);
}

beforeAll(async () => {
  processor = await startRole('command-processor');
  await bus.start();
});

afterAll(async () => {
  await bus.stop();
  if (processor !== undefined) await processor.stop();
});

describe('ownership decided by the order aggregate, recorded on its events', () => {
  it("refuses a customer's commands on another customer's order and writes nothing for them", async () => {
    expect(await send(bob, bobOrder, { type: 'OpenOrder', data: { customerId: bob.subject } })).toMatchObject({ status: 'accepted', aggregateVersion: 1 });

    const refused = await send(ada, bobOrder, soup);
    expect(refused).toMatchObject({ status: 'rejected', code: 'forbidden', aggregateVersion: 0 });
    if (refused.status === 'rejected') expect(refused.message).not.toContain(bob.subject);
    // With If-Match the answer is still forbidden: the version check comes after, so it tells nothing.
    expect(await send(ada, bobOrder, { type: 'CancelOrder', data: { reason: 'mine now' } }, 7)).toMatchObject({ status: 'rejected', code: 'forbidden' });
    // An order that does not exist answers the same.
    expect(await send(ada, unique('o-nobody'), { type: 'PlaceOrder', data: {} })).toMatchObject({ status: 'rejected', code: 'forbidden', aggregateVersion: 0 });
    // Opening an order for someone else is refused too.
    expect(await send(ada, unique('o-for-bob'), { type: 'OpenOrder', data: { customerId: bob.subject } })).toMatchObject({ status: 'rejected', code: 'forbidden' });

    // Bob's order still holds only Bob's event; Bob can go on with it.
    expect(await send(bob, bobOrder, soup)).toMatchObject({ status: 'accepted', aggregateVersion: 2 });
    const events = await orderEvents(bobOrder);
    expect(events.map((e) => [e.type, e.metadata.version, e.metadata.actor])).toEqual([
      ['OrderOpened', 1, bob],
      ['ItemAddedToOrder', 2, bob],
    ]);
  });

  it("accepts a customer's own commands and records the customer on every event they cause", async () => {
    for (const command of [
      { type: 'OpenOrder', data: { customerId: ada.subject } },
      soup,
      { type: 'SetDeliveryAddress', data: { address } },
      { type: 'PlaceOrder', data: {} },
    ] satisfies OrderCommand[]) {
      expect(await send(ada, adaOrder, command)).toMatchObject({ status: 'accepted' });
    }
    // A customer may not start preparing even their own order: that is the kitchen's step.
    expect(await send(ada, adaOrder, { type: 'StartPreparation', data: {} })).toMatchObject({ status: 'rejected', code: 'forbidden' });

    const events = await orderEvents(adaOrder);
    expect(events.map((e) => e.type)).toEqual(['OrderOpened', 'ItemAddedToOrder', 'DeliveryAddressSet', 'OrderPlaced']);
    for (const e of events) expect(e.metadata.actor).toEqual({ subject: ada.subject, roles: ['customer'] });
  });

  it("lets the kitchen start preparing a confirmed order, recorded with the kitchen's actor", async () => {
    expect(await send(fulfilment, adaOrder, { type: 'ConfirmOrder', data: {} })).toMatchObject({ status: 'accepted', aggregateVersion: 5 });
    expect(await send(kitchen, adaOrder, { type: 'StartPreparation', data: {} })).toMatchObject({ status: 'accepted', aggregateVersion: 6 });
    // The kitchen may not act as a customer on the order.
    expect(await send(kitchen, adaOrder, { type: 'CancelOrder', data: { reason: 'no' } })).toMatchObject({ status: 'rejected', code: 'forbidden' });

    const events = await orderEvents(adaOrder);
    expect(events.slice(4).map((e) => [e.type, e.metadata.actor])).toEqual([
      ['OrderConfirmed', fulfilment],
      ['PreparationStarted', { subject: kitchen.subject, roles: ['kitchen'] }],
    ]);
  });
});

describe('ownership decided by the customer and email reservation aggregates', () => {
  it('lets a customer sign up only as themself and change only their own profile', async () => {
    const email = `${ada.subject}@example.com`;
    // Reserving an address for someone else, or signing up under another id, is forbidden.
    expect(await sendTo('email-reservation', bob, email, { type: 'ReserveEmail', data: { customerId: ada.subject } })).toMatchObject({ status: 'rejected', code: 'forbidden' });
    expect(await sendTo('customer', bob, ada.subject, { type: 'SignUpCustomer', data: { name: 'Not Ada', email } })).toMatchObject({ status: 'rejected', code: 'forbidden' });
    // The sign-up flow as Ada herself.
    expect(await sendTo('email-reservation', ada, email, { type: 'ReserveEmail', data: { customerId: ada.subject } })).toMatchObject({ status: 'accepted' });
    expect(await sendTo('customer', ada, ada.subject, { type: 'SignUpCustomer', data: { name: 'Ada Lovelace', email } })).toMatchObject({ status: 'accepted', aggregateVersion: 1 });
    // Bob may not rename Ada, whether or not he knows she exists; Ada may.
    expect(await sendTo('customer', bob, ada.subject, { type: 'ChangeCustomerName', data: { name: 'Mallory' } })).toMatchObject({ status: 'rejected', code: 'forbidden', aggregateVersion: 0 });
    expect(await sendTo('customer', ada, ada.subject, { type: 'ChangeCustomerName', data: { name: 'Countess Ada' } })).toMatchObject({ status: 'accepted', aggregateVersion: 2 });

    const events = (await readEvents(kafka, topicName('customer', 'events'))).filter((e) => e.metadata.aggregateId === ada.subject);
    expect(events.map((e) => [e.type, e.data.name, e.metadata.actor])).toEqual([
      ['CustomerSignedUp', 'Ada Lovelace', ada],
      ['CustomerNameChanged', 'Countess Ada', ada],
    ]);
  });
});
