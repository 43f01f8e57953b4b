import { coPartition, coPartitionedAssigner, coPartitionedName, ownerOf } from '../../../../infra/kafka/co-partitioned-assigner';

const counts = new Map([
  ['restaurant.order.commands', 6],
  ['restaurant.menu.commands', 6],
  ['restaurant.customer.commands', 6],
]);

describe('co-partitioned assignment', () => {
  it('gives partition p of every topic to the same member', () => {
    const assignment = coPartition(['m-b', 'm-a'], counts);
    for (const [, topics] of assignment) {
      const numbers = Object.values(topics).map((partitions) => partitions.join(','));
      expect(new Set(numbers).size).toBe(1); // the same partition numbers for every topic
    }
    expect(assignment.get('m-a')).toEqual({
      'restaurant.customer.commands': [0, 2, 4],
      'restaurant.menu.commands': [0, 2, 4],
      'restaurant.order.commands': [0, 2, 4],
    });
    expect(assignment.get('m-b')?.['restaurant.order.commands']).toEqual([1, 3, 5]);
  });

  it('assigns every partition exactly once, whatever the number of members', () => {
    for (const members of [['a'], ['a', 'b'], ['a', 'b', 'c', 'd'], ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']]) {
      const assignment = coPartition(members, counts);
      const taken = [...assignment.values()].flatMap((topics) => Object.entries(topics).flatMap(([topic, ps]) => ps.map((p) => `${topic}:${p}`)));
      expect(taken.sort()).toEqual([...counts].flatMap(([topic, n]) => Array.from({ length: n }, (_, p) => `${topic}:${p}`)).sort());
    }
  });

  it('does not depend on the order the coordinator lists the members in', () => {
    expect(coPartition(['x', 'y', 'z'], counts)).toEqual(coPartition(['z', 'x', 'y'], counts));
  });

  it('leaves members beyond the partition count idle, and gives a shorter topic only the numbers it has', () => {
    const assignment = coPartition(['a', 'b', 'c'], new Map([['t', 2], ['u', 3]]));
    expect(assignment.get('a')).toEqual({ t: [0], u: [0] });
    expect(assignment.get('b')).toEqual({ t: [1], u: [1] });
    expect(assignment.get('c')).toEqual({ u: [2] });
    expect(ownerOf(0, [])).toBeUndefined();
  });

  it('deals whole groups of k consecutive partition numbers when asked to', () => {
    const six = new Map([
      ['a.commands', 6],
      ['b.commands', 6],
    ]);
    const assignment = coPartition(['m2', 'm1'], six, 3);
    expect(assignment.get('m1')).toEqual({ 'a.commands': [0, 1, 2], 'b.commands': [0, 1, 2] });
    expect(assignment.get('m2')).toEqual({ 'a.commands': [3, 4, 5], 'b.commands': [3, 4, 5] });
    // More members than groups: the extra ones stand by.
    const three = coPartition(['m1', 'm2', 'm3'], six, 3);
    expect(three.get('m3')).toEqual({});
    // A group of 6 is everything, on one member.
    expect(coPartition(['m1', 'm2'], six, 6).get('m1')).toEqual({ 'a.commands': [0, 1, 2, 3, 4, 5], 'b.commands': [0, 1, 2, 3, 4, 5] });
    expect(ownerOf(4, ['x', 'y'], 3)).toBe('y');
  });

  it('names its protocol after the group size, so members with different sizes cannot share a group', () => {
    expect(coPartitionedName(1)).toBe('CoPartitioned');
    expect(coPartitionedName(3)).toBe('CoPartitioned-3');
    expect(() => coPartitionedAssigner(0)).toThrow(RangeError);
    expect(() => coPartitionedAssigner(1.5)).toThrow(RangeError);
  });
});
