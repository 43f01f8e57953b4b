/**
 * The versions of the local stack: the single source for `npm run stack:up`
 * (which asks Maven Central for exactly these) and for the test that holds
 * docker-compose.yml to the same components.
 *
 * Apicurio Registry is pinned to the 3.0 line: 3.1 and later are compiled for
 * Java 21, and the build machines run Java 17.
 */
export const versions = Object.freeze({
  kafka: '3.9.1',
  scala: '2.13',
  /** Kafka 3.9 logs through slf4j 1.7 to reload4j, as its own distribution does. */
  slf4j: '1.7.36',
  apicurio: '3.0.9',
  /** Debian 12's redis-server is 7.0; compose uses the same minor. */
  redis: '7.0',
  /** Zipkin, the trace backend (optional: STACK_ZIPKIN=1): its server's `exec` jar from Maven Central; the 3.x line runs on Java 17. */
  zipkin: '3.6.1',
});
