import { brokenOf, readinessOf, redisReadiness } from '../../../../infra/http/readiness';
import { isTransient } from '../../../../app/transient';
import { ConfigError } from '../../../../infra/config';
import { TopicDriftError } from '../../../../infra/kafka/topics';
import { RegistryError } from '../../../../infra/kafka/codec';

describe('readiness', () => {
  const ok = { notReady: () => undefined };
  const down = (why: string) => ({ notReady: () => why });

  it('is ready only once started, while every check holds, and never while stopping', () => {
    expect(readinessOf(false, false, [ok])).toEqual({ ready: false, reasons: ['starting'] });
    expect(readinessOf(true, false, [ok, ok])).toEqual({ ready: true, reasons: [] });
    expect(readinessOf(true, false, [ok, down('Kafka: connect ECONNREFUSED')])).toEqual({ ready: false, reasons: ['Kafka: connect ECONNREFUSED'] });
    expect(readinessOf(true, true, [ok])).toEqual({ ready: false, reasons: ['stopping'] });
  });

  it('Redis counts while its connection is ready', () => {
    expect(redisReadiness('query', { status: 'ready' }).notReady()).toBeUndefined();
    expect(redisReadiness('query', { status: 'reconnecting' }).notReady()).toBe('query: Redis connection reconnecting');
  });
});

describe('transient start-up failures', () => {
  const kafkajs = (name: string, retriable: boolean, cause?: unknown) => Object.assign(new Error(name), { name, retriable, ...(cause === undefined ? {} : { cause }) });

  it('waits out what is not there yet', () => {
    expect(isTransient(kafkajs('KafkaJSConnectionError', true))).toBe(true);
    expect(isTransient(kafkajs('KafkaJSNumberOfRetriesExceeded', false, kafkajs('KafkaJSConnectionError', true)))).toBe(true);
    expect(isTransient(new RegistryError('registry down', true))).toBe(true);
    expect(isTransient(new TypeError('fetch failed', { cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }) }))).toBe(true);
    expect(isTransient(Object.assign(new Error('Reached the max retries per request limit'), { name: 'MaxRetriesPerRequestError' }))).toBe(true);
  });

  it('ends start-up on what waiting cannot fix', () => {
    expect(isTransient(new ConfigError('KAFKA_BROKERS is empty'))).toBe(false);
    expect(isTransient(new TopicDriftError([{ topic: 't', differences: ['partitions'] }]))).toBe(false);
    expect(isTransient(kafkajs('KafkaJSSASLAuthenticationError', false))).toBe(false);
    expect(isTransient(new RegistryError('schema refused', false))).toBe(false);
    expect(isTransient(kafkajs('KafkaJSNumberOfRetriesExceeded', false, kafkajs('KafkaJSProtocolError', false)))).toBe(false);
  });
});

describe('broken for good', () => {
  it('lists the checks that can never hold again without a restart', () => {
    expect(brokenOf([{ notReady: () => undefined }, { notReady: () => 'x', broken: () => undefined }])).toEqual([]);
    expect(brokenOf([{ notReady: () => 'group g: stopped', broken: () => 'group g: stopped after KafkaJSError (not restarted)' }])).toEqual(['group g: stopped after KafkaJSError (not restarted)']);
  });
});
