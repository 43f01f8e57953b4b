import { Kafka, logLevel, type KafkaConfig, type LogEntry, type RetryOptions, type SASLOptions } from 'kafkajs';
import { config, ConfigError, missingKafkaCredentials, type AppConfig } from '../config';
import { rootLogger, type Logger } from '../logging';
import { cacheCoordinators } from './coordinator-cache';
import { CLIENT_RETRY } from './retry';
import { kafkajsLevel } from './log-levels';

// kafkajs warns about its v2 partitioner change on every producer; we choose partitions explicitly.
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

/** Routes kafkajs's own logs into pino, keeping its structured fields. */
export function pinoLogCreator(logger: Logger) {
  return () =>
    ({ level, log }: LogEntry): void => {
      const { message, ...rest } = log;
      // Transient broker answers kafkajs retries are debug, not errors (log-levels.ts).
      logger[kafkajsLevel(level, message, rest.error)]({ kafkajs: rest }, message);
    };
}

/**
 * The SASL and TLS options of every kafkajs client, from the configuration
 * (KAFKA_SASL_*, KAFKA_SSL*; docs/least-privilege.md). Empty for the local
 * stack's plaintext default.
 */
export function kafkaSecurity(kafka: AppConfig['kafka'] = config().kafka): Pick<KafkaConfig, 'sasl' | 'ssl'> {
  const out: { sasl?: SASLOptions; ssl?: KafkaConfig['ssl'] } = {};
  const { sasl, ssl } = kafka;
  if (sasl !== undefined) {
    const { username, password } = sasl;
    out.sasl = sasl.mechanism === 'plain' ? { mechanism: 'plain', username, password } : sasl.mechanism === 'scram-sha-256' ? { mechanism: 'scram-sha-256', username, password } : { mechanism: 'scram-sha-512', username, password };
  }
  if (ssl !== undefined) out.ssl = Object.keys(ssl).length === 0 ? true : { ...ssl };
  return out;
}

/**
 * The roles' kafkajs client. `retry` replaces the client-wide retry settings,
 * which also govern connecting to the cluster (a probe wants none).
 */
export function createKafka(clientId: string, logger: Logger = rootLogger, { retry }: { readonly retry?: RetryOptions } = {}): Kafka {
  const missing = missingKafkaCredentials();
  if (missing !== undefined) throw new ConfigError(missing);
  const level = process.env.KAFKAJS_LOG_LEVEL === 'debug' ? logLevel.DEBUG : logLevel.WARN;
  const kafka = new Kafka({
    clientId: `${config().kafka.clientId}.${clientId}`,
    brokers: [...config().kafka.brokers],
    ...kafkaSecurity(),
    logLevel: level,
    logCreator: pinoLogCreator(logger.child({ component: 'kafkajs' })),
    connectionTimeout: 3000,
    requestTimeout: 30000,
    // kafkajs's default backoff grows to 30 s between attempts: a client would notice the broker's
    // return up to 30 s late. At most 2 s between attempts instead (docs/recovery.md).
    retry: retry ?? { ...CLIENT_RETRY },
  });
  // One FindCoordinator per coordinator instead of four per transaction (coordinator-cache.ts).
  return cacheCoordinators(kafka);
}
