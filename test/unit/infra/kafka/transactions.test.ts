// sendPerPartition (infra/kafka/transactions.ts): a transaction's messages go
// out as one sendBatch per topic partition, so kafkajs never retries a request
// that spans brokers (which re-sends a partition whose first request is still
// on its way, with new sequence numbers: every record of it twice), and a
// failure is reported only once every other request has finished.
import type { Message, RecordMetadata, TopicMessages, Transaction } from 'kafkajs';
import { sendPerPartition } from '../../../../infra/kafka/transactions';

const msg = (partition: number, value: string): Message => ({ key: value, value, partition });

function fakeTransaction(behaviour: (topic: string, partition: number) => Promise<void>): { transaction: Pick<Transaction, 'sendBatch'>; calls: Array<Array<[string, number, string[]]>> } {
  const calls: Array<Array<[string, number, string[]]>> = [];
  const transaction = {
    sendBatch: async ({ topicMessages }: { topicMessages?: TopicMessages[] }): Promise<RecordMetadata[]> => {
      const call = (topicMessages ?? []).flatMap(({ topic, messages }) => [...new Set(messages.map((m) => m.partition as number))].map((p) => [topic, p, messages.filter((m) => m.partition === p).map((m) => String(m.value))] as [string, number, string[]]));
      calls.push(call);
      const [topic, partition] = call[0] as [string, number, string[]];
      await behaviour(topic, partition);
      return [{ topicName: topic, partition, errorCode: 0, baseOffset: String(partition * 100) }];
    },
  };
  return { transaction, calls };
}

describe('sendPerPartition', () => {
  it('sends each topic partition in a request of its own, its messages in their order', async () => {
    const { transaction, calls } = fakeTransaction(async () => undefined);
    const sent = await sendPerPartition(transaction, [
      { topic: 'events', messages: [msg(1, 'a'), msg(2, 'b'), msg(1, 'c')] },
      { topic: 'replies', messages: [msg(1, 'r')] },
    ]);
    expect(calls).toEqual([[['events', 1, ['a', 'c']]], [['events', 2, ['b']]], [['replies', 1, ['r']]]]);
    expect(sent.map((r) => [r.topicName, r.partition, r.baseOffset])).toEqual([['events', 1, '100'], ['events', 2, '200'], ['replies', 1, '100']]);
  });

  it('fails only after every other request has finished, with the failure', async () => {
    let slowDone = false;
    const { transaction } = fakeTransaction(async (topic) => {
      if (topic === 'dead') throw new Error('Connection error: connect ECONNREFUSED');
      await new Promise((resolve) => setTimeout(resolve, 50));
      slowDone = true;
    });
    await expect(sendPerPartition(transaction, [{ topic: 'dead', messages: [msg(0, 'x')] }, { topic: 'slow', messages: [msg(0, 'y')] }])).rejects.toThrow('ECONNREFUSED');
    expect(slowDone).toBe(true);
  });

  it('refuses a message without a partition (it could land anywhere)', async () => {
    const { transaction } = fakeTransaction(async () => undefined);
    await expect(sendPerPartition(transaction, [{ topic: 'events', messages: [{ key: 'k', value: 'v' }] }])).rejects.toThrow('names no partition');
  });
});
