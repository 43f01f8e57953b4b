// The state bench's inputs and readings (bench/state): its snapshots must be
// records the command processor can decode, and it must read the processor's
// restore log line as the processor writes it.
import { loadSchemas } from '../../../../schemas/loader';
import { partitionFor } from '../../../../schemas/partitioning';
import { restoreLogged } from '../../../../bench/state/processes';
import { benchOrderId, benchTopics, orderSnapshot } from '../../../../bench/state/topic-set';

describe('bench:state snapshots', () => {
  const topics = benchTopics(1000, 6);
  const type = loadSchemas().get('restaurant.order.OrderSnapshot').type;

  it('names a topic set of its own, apart from the restaurant.* topics', () => {
    expect(topics.snapshots).toBe('bench-state-1000.order.snapshots');
    expect(Object.values(topics).filter((v) => typeof v === 'string' && v.startsWith('restaurant.'))).toEqual([]);
  });

  it('are valid OrderSnapshot records of a delivered order with its 10 replies', () => {
    for (const i of [0, 1, 999, 123_456]) {
      const snapshot = orderSnapshot(i, topics, partitionFor(benchOrderId(i), 6), Date.UTC(2026, 0, 1));
      expect(type.isValid(snapshot)).toBe(true);
      const decoded = type.fromBuffer(type.toBuffer(snapshot)) as { orderId: string; status: string; version: number; recentCommands: unknown[] };
      expect(decoded).toMatchObject({ orderId: benchOrderId(i), status: 'DELIVERED', version: 10 });
      expect(decoded.recentCommands).toHaveLength(10);
    }
  });
});

describe('bench:state reads the processor restore log', () => {
  it('takes the longest restore and the snapshots of every partition group', () => {
    const output = [
      'something else',
      '{"level":30,"partitions":[0,1,2],"aggregates":10,"snapshots":12,"ms":340,"msg":"partition state restored"}',
      '{"level":30,"partitions":[3,4,5],"aggregates":9,"snapshots":11,"ms":410,"msg":"partition state restored"}',
    ].join('\n');
    expect(restoreLogged(output)).toEqual({ ms: 410, snapshots: 23, stores: 2, storeMs: 750 });
  });

  it("takes the runtime's per-store lines as one span, from the first store's start to the last one's end", () => {
    const output = [
      '{"level":30,"time":"2026-12-06T10:00:01.000Z","records":5,"ms":1000,"msg":"partition store rebuilt from the changelog"}',
      '{"level":30,"time":"2026-12-06T10:00:02.500Z","records":7,"ms":2000,"msg":"partition store rebuilt from the changelog"}',
      '{"level":30,"time":"2026-12-06T10:00:03.000Z","records":0,"ms":100,"msg":"partition store restored by delta"}',
    ].join('\n');
    // Starts at 00.000 (01.000 - 1000 ms), ends at 03.000: a 3,000 ms span over 3,100 ms of store time.
    expect(restoreLogged(output)).toEqual({ ms: 3000, snapshots: 12, stores: 3, storeMs: 3100 });
  });

  it('says nothing when the processor logs no restore (another runtime)', () => {
    expect(restoreLogged('{"level":30,"msg":"ready"}\n')).toBeUndefined();
  });
});
