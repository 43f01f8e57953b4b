import { Type } from 'avsc';
import { loadSchemas } from '../../../schemas/loader';

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
