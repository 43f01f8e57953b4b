import { Writable } from 'node:stream';
import { logLevel } from 'kafkajs';
import pino from 'pino';
import { pinoLogCreator } from '../../../infra/kafka/client';

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
});
