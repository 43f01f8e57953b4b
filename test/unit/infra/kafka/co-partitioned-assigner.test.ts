import { AssignerProtocol } from 'kafkajs';
import { claimedPartitions, coPartition, coPartitionedAssigner, coPartitionedName, coPartitionSticky, ownerOf, OwnedPartitions } from '../../../../infra/kafka/co-partitioned-assigner';

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

describe('sticky co-partitioned assignment', () => {
  const six = new Map([
    ['a.commands', 6],
    ['b.commands', 6],
  ]);
  const numbers = (assignment: Map<string, Record<string, number[]>>, member: string): number[] => assignment.get(member)?.['a.commands'] ?? [];

  it('is the round-robin deal when nobody claims anything', () => {
    for (const [members, k] of [[['m-b', 'm-a'], 1], [['x', 'y', 'z'], 1], [['m2', 'm1'], 3], [['a', 'b', 'c', 'd'], 2]] as const) {
      expect(coPartitionSticky(members.map((memberId) => ({ memberId, owned: [] })), six, k)).toEqual(coPartition(members, six, k));
    }
  });

  it('gives a member that crashed and joined again with a new id its own partitions back, whatever the ids', () => {
    // Before: m-a owned 0, 2, 4 and m-b 1, 3, 5. m-b crashed, m-a stood in for it (all six), m-b rejoined as z-b or a-b.
    for (const rejoined of ['a-b', 'z-b']) {
      const assignment = coPartitionSticky([{ memberId: 'm-a', owned: [0, 1, 2, 3, 4, 5] }, { memberId: rejoined, owned: [1, 3, 5] }], six);
      expect(numbers(assignment, rejoined)).toEqual([1, 3, 5]);
      expect(numbers(assignment, 'm-a')).toEqual([0, 2, 4]);
      expect(assignment.get(rejoined)?.['b.commands']).toEqual([1, 3, 5]);
    }
    // Without the claims, the deal by the new ids would have swapped them.
    expect(numbers(coPartition(['m-a', 'a-b'], six), 'a-b')).toEqual([0, 2, 4]);
  });

  it('keeps owned partitions up to a balanced share and deals the rest to the members with fewest', () => {
    // A member joins a group of one that owns everything: it gets half, the first keeps the other half.
    const joined = coPartitionSticky([{ memberId: 'm-b', owned: [0, 1, 2, 3, 4, 5] }, { memberId: 'm-a', owned: [] }], six);
    expect(numbers(joined, 'm-b')).toEqual([0, 1, 2]);
    expect(numbers(joined, 'm-a')).toEqual([3, 4, 5]);
    // Five groups over two members: one keeps three, never both.
    const five = new Map([['t', 5]]);
    const uneven = coPartitionSticky([{ memberId: 'x', owned: [0, 1, 2] }, { memberId: 'y', owned: [2, 3, 4] }], five);
    expect([uneven.get('x')?.t?.length, uneven.get('y')?.t?.length].sort()).toEqual([2, 3]);
    expect([...(uneven.get('x')?.t ?? []), ...(uneven.get('y')?.t ?? [])].sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('keeps whole groups of k, and ignores claims beyond the partitions there are', () => {
    const assignment = coPartitionSticky([{ memberId: 'm1', owned: [3, 4, 5, 9] }, { memberId: 'm2', owned: [] }], six, 3);
    expect(numbers(assignment, 'm1')).toEqual([3, 4, 5]);
    expect(numbers(assignment, 'm2')).toEqual([0, 1, 2]);
  });

  it('reads claims from join metadata, and claims nothing from metadata it cannot read', () => {
    expect(claimedPartitions(Buffer.from('[1,3,5]'))).toEqual([1, 3, 5]);
    expect(claimedPartitions(Buffer.from('not json'))).toEqual([]);
    expect(claimedPartitions(Buffer.from('[-1, 2.5, "x", 4]'))).toEqual([4]);
    expect(claimedPartitions(Buffer.alloc(0))).toEqual([]);
  });

  it('says in its join metadata what the consumer was last assigned', () => {
    const owned = new OwnedPartitions();
    const listeners: Array<(event: { payload: { memberAssignment: Record<string, number[]> } }) => void> = [];
    owned.follow({ events: { GROUP_JOIN: 'consumer.group_join' }, on: (_: unknown, listener: (typeof listeners)[number]) => (listeners.push(listener), () => undefined) } as never);
    listeners.forEach((l) => l({ payload: { memberAssignment: { 'a.commands': [5, 1], 'b.commands': [1, 3] } } }));
    expect(owned.owned).toEqual([1, 3, 5]);
    const assigner = coPartitionedAssigner(1, owned)({ cluster: {} as never, groupId: 'g', logger: {} as never });
    const { metadata } = assigner.protocol({ topics: ['a.commands'] });
    expect(claimedPartitions(AssignerProtocol.MemberMetadata.decode(metadata)?.userData)).toEqual([1, 3, 5]);
  });
});
