import { Type } from 'avsc';
import { loadSchemas } from '../../../schemas/loader';
import { withoutActor } from '../../support/before-actor';
import { recordFixtures } from '../../support/schema-fixtures';

/**
 * Real schema evolution from this repository's history: the snapshots gained
 * `recentCommands` (with a default) after their first version. Data written with
 * the old schema must read with today's, and an old reader must skip the field.
 */
const current = loadSchemas().get('restaurant.order.OrderSnapshot');
const expanded = current.expanded as { fields: Array<{ name: string }> };
const oldSchema = { ...expanded, fields: expanded.fields.filter((f) => f.name !== 'recentCommands') };
const oldType = Type.forSchema(oldSchema as Parameters<typeof Type.forSchema>[0]);

const oldRecord = {
  orderId: 'o-1',
  version: 3,
  customerId: 'c-1',
  status: 'OPEN',
  lines: [{ menuItemId: 'm-1', menuItemName: 'Soup', quantity: 2, unitPrice: { amountMinor: 450, currency: 'EUR' } }],
  deliveryAddress: null,
  reason: null,
};

describe('reading across schema versions', () => {
  it('reads data written with the old snapshot schema using the current one, filling the default', () => {
    const bytes = oldType.toBuffer(oldRecord);
    const decoded = current.type.fromBuffer(bytes, current.type.createResolver(oldType)) as Record<string, unknown>;
    expect(decoded).toEqual({ ...oldRecord, recentCommands: [] });
  });

  it('lets an old reader read new data, skipping the field it does not know', () => {
    const newRecord = { ...oldRecord, recentCommands: [] };
    const bytes = current.type.toBuffer(newRecord);
    const decoded = oldType.fromBuffer(bytes, oldType.createResolver(current.type)) as Record<string, unknown>;
    expect(decoded).toEqual(oldRecord);
  });
});

/**
 * Every event and command gained `metadata.actor` (who asked: the audit
 * trail) with a null default. Records written before it, by the schema
 * without the field, must read with today's schemas (actor null), and a
 * reader built before it must skip the field in new data.
 */
describe('metadata.actor, added to every command and event', () => {
  const schemas = loadSchemas();
  const withMetadata = [...schemas.ofKind('event'), ...schemas.ofKind('command')];

  it('covers every event and command type', () => {
    expect(withMetadata.length).toBeGreaterThan(30);
  });

  it.each(withMetadata.map((s) => [s.fullName, s] as const))('%s written before the field reads with actor null, and an old reader skips it', (_name, schema) => {
    const oldType = Type.forSchema(withoutActor(schema.expanded) as Parameters<typeof Type.forSchema>[0]);
    const now = (recordFixtures as Record<string, unknown>)[schema.fullName] as { metadata: Record<string, unknown> };
    const actor = { subject: 'c-42', roles: ['customer'] };
    const current: { metadata: Record<string, unknown> } = { ...now, metadata: { ...now.metadata, actor } };
    // Old bytes → today's reader.
    const { actor: _dropped, ...oldMetadata } = current.metadata;
    const oldBytes = oldType.toBuffer({ ...current, metadata: oldMetadata });
    const read = schema.type.fromBuffer(oldBytes, schema.type.createResolver(oldType)) as { metadata: Record<string, unknown> };
    expect(read.metadata.actor).toBeNull();
    expect({ ...read, metadata: { ...read.metadata, actor } }).toEqual(schema.type.fromBuffer(schema.type.toBuffer(current)));
    // New bytes → the old reader.
    const old = oldType.fromBuffer(schema.type.toBuffer(current), oldType.createResolver(schema.type)) as { metadata: Record<string, unknown> };
    expect(old.metadata).not.toHaveProperty('actor');
    expect(old.metadata.commandId).toBe(current.metadata.commandId);
  });
});
