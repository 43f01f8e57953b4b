import { replicaFigures, type PartitionReplicas } from '../../../../app/chaos/replica-view';

const p = (topic: string, partition: number, leader: number, isr: number[]): PartitionReplicas => ({ topic, partition, leader, isr });

describe('replicaFigures', () => {
  it('names the partitions the killed node led alone, those under min ISR, and those left without a leader', () => {
    const atKill = [p('orders', 0, 2, [2, 1, 3]), p('orders', 1, 2, [2]), p('orders', 2, 1, [1, 2]), p('__consumer_offsets', 0, 3, [3])];
    const whileDown = [p('orders', 0, 1, [1, 3]), p('orders', 1, -1, [2]), p('orders', 2, 1, [1]), p('__consumer_offsets', 0, 3, [3])];
    expect(replicaFigures(2, atKill, whileDown, 2)).toEqual({
      partitions: 4,
      ledByNode: 2,
      underMinIsr: 2,
      underMinIsrWithoutNode: 3,
      ledWithoutOtherInSync: ['orders-1'],
      leaderlessWhileDown: ['orders-1'],
    });
  });

  it('counts a partition still led by the dead node as without a leader, and leaves the figure out when the cluster did not answer', () => {
    const atKill = [p('orders', 0, 2, [2, 1])];
    expect(replicaFigures(2, atKill, [p('orders', 0, 2, [2, 1])], 2).leaderlessWhileDown).toEqual(['orders-0']);
    expect(replicaFigures(2, atKill, undefined, 2)).not.toHaveProperty('leaderlessWhileDown');
  });
});
