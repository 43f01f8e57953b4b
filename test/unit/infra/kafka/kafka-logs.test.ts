import { Writable } from 'node:stream';
import { logLevel } from 'kafkajs';
import pino from 'pino';
import { pinoLogCreator } from '../../../../infra/kafka/client';

function capture(): { entries: Array<{ level: number; msg: string; kafkajs: Record<string, unknown> }>; log: ReturnType<ReturnType<typeof pinoLogCreator>> } {
  const entries: Array<{ level: number; msg: string; kafkajs: Record<string, unknown> }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      entries.push(JSON.parse(chunk.toString()) as { level: number; msg: string; kafkajs: Record<string, unknown> });
      done();
    },
  });
  const logger = pino({ level: 'debug' }, stream);
  return { entries, log: pinoLogCreator(logger)() };
}

const entry = (level: logLevel, message: string, extra: Record<string, unknown> = {}) => ({ namespace: 'x', level, label: 'ERROR', log: { timestamp: 't', message, ...extra } });

describe("kafkajs's logs in pino", () => {
  it('keep their level and structured fields', async () => {
    const { entries, log } = capture();
    log(entry(logLevel.ERROR, 'Crash: KafkaJSNumberOfRetriesExceeded', { groupId: 'g' }));
    log(entry(logLevel.WARN, 'Consumer group rebalancing'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(entries.map((e) => [e.level, e.msg, e.kafkajs.groupId])).toEqual([
      [50, 'Crash: KafkaJSNumberOfRetriesExceeded', 'g'],
      [40, 'Consumer group rebalancing', undefined],
    ]);
  });

  it('say a retried CONCURRENT_TRANSACTIONS at debug level, not as an error', async () => {
    const { entries, log } = capture();
    const text = 'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing';
    log(entry(logLevel.ERROR, 'Response AddPartitionsToTxn(key: 24, version: 1)', { error: text }));
    log(entry(logLevel.ERROR, `Failed to send messages: ${text}`, { retryCount: 0 }));
    await new Promise((resolve) => setImmediate(resolve));
    expect(entries.map((e) => e.level)).toEqual([20, 20]);
  });

  it("say the broker's transient start-up and rebalance answers, which kafkajs retries, at debug or info level", async () => {
    const { entries, log } = capture();
    log(entry(logLevel.ERROR, 'Response GroupCoordinator(key: 10, version: 2)', { error: 'The group coordinator is not available' }));
    log(entry(logLevel.ERROR, 'Response Metadata(key: 3, version: 6)', { error: 'There is no leader for this topic-partition as we are in the middle of a leadership election' }));
    log(entry(logLevel.ERROR, 'Response Heartbeat(key: 12, version: 3)', { error: 'The group is rebalancing, so a rejoin is needed' }));
    log(entry(logLevel.WARN, 'The group is rebalancing, re-joining', { groupId: 'g' }));
    await new Promise((resolve) => setImmediate(resolve));
    expect(entries.map((e) => e.level)).toEqual([20, 20, 20, 30]);
  });

  it('keep a crash or a restart that only quotes a transient answer at its level', async () => {
    const { entries, log } = capture();
    log(entry(logLevel.ERROR, 'Crash: KafkaJSNumberOfRetriesExceeded: The group coordinator is not available', { groupId: 'g' }));
    log(entry(logLevel.ERROR, 'Restarting the consumer in 300ms', { error: 'The group coordinator is not available' }));
    log(entry(logLevel.ERROR, 'Response Produce(key: 0, version: 7)', { error: 'The producer has been fenced' }));
    await new Promise((resolve) => setImmediate(resolve));
    expect(entries.map((e) => e.level)).toEqual([50, 50, 50]);
  });
});
