package bench;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The peer of the command processor in `npm run bench:state` (docs/scaling.md).
 *
 * A KTable over the aggregate snapshot topic, materialized in RocksDB; with
 * topology.optimization=all the snapshot topic itself is the store's changelog,
 * as it is for the command processor, so a restore reads the same records.
 * Commands (keyed by aggregate id, co-partitioned with the snapshots) are
 * joined with the table and answered on the replies topic, under
 * exactly_once_v2. The values stay bytes: the peer measures restore and memory,
 * it does not decide orders.
 *
 * Prints one line per fact, for bench/state.ts to read:
 *   PEER running <ms since JVM start> restored <records> in <ms restoring>
 *   PEER closed
 */
public final class StatePeer {
  private static String env(String name) {
    String value = System.getenv(name);
    if (value == null || value.isEmpty()) throw new IllegalArgumentException(name + " is not set");
    return value;
  }

  public static void main(String[] args) throws InterruptedException {
    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, env("PEER_APPLICATION_ID"));
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, env("PEER_BOOTSTRAP"));
    props.put(StreamsConfig.STATE_DIR_CONFIG, env("PEER_STATE_DIR"));
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    props.put(StreamsConfig.TOPOLOGY_OPTIMIZATION_CONFIG, StreamsConfig.OPTIMIZE);
    props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
    // Leave the group on a clean close, as the command processor does, so a restart does not wait out
    // the old member's session (Streams stays in the group by default, for rolling restarts).
    props.put(StreamsConfig.consumerPrefix("internal.leave.group.on.close"), true);
    props.put(StreamsConfig.consumerPrefix("session.timeout.ms"), 10_000);
    // One broker on the bench's stack.
    props.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);

    StreamsBuilder builder = new StreamsBuilder();
    KTable<String, byte[]> aggregates = builder.table(
        env("PEER_SNAPSHOTS_TOPIC"),
        Consumed.with(Serdes.String(), Serdes.ByteArray()),
        Materialized.<String, byte[], KeyValueStore<Bytes, byte[]>>as("aggregates"));
    builder.stream(env("PEER_COMMANDS_TOPIC"), Consumed.with(Serdes.String(), Serdes.ByteArray()))
        .leftJoin(aggregates, (command, snapshot) -> (snapshot == null ? "new" : "known:" + snapshot.length).getBytes())
        .to(env("PEER_REPLIES_TOPIC"), Produced.with(Serdes.String(), Serdes.ByteArray()));

    KafkaStreams streams = new KafkaStreams(builder.build(props), props);
    AtomicLong restored = new AtomicLong();
    AtomicLong restoreStarted = new AtomicLong();
    AtomicLong restoreEnded = new AtomicLong();
    streams.setGlobalStateRestoreListener(new StateRestoreListener() {
      @Override
      public void onRestoreStart(TopicPartition partition, String store, long start, long end) {
        restoreStarted.compareAndSet(0, System.nanoTime());
      }

      @Override
      public void onBatchRestored(TopicPartition partition, String store, long batchEnd, long records) {
        restored.addAndGet(records);
      }

      @Override
      public void onRestoreEnd(TopicPartition partition, String store, long total) {
        restoreEnded.set(System.nanoTime());
      }
    });
    streams.setStateListener((now, before) -> {
      if (now == KafkaStreams.State.RUNNING) {
        long jvmMs = System.currentTimeMillis() - ManagementFactory.getRuntimeMXBean().getStartTime();
        long restoreMs = restoreStarted.get() == 0 ? 0 : (restoreEnded.get() - restoreStarted.get()) / 1_000_000;
        System.out.println("PEER running " + jvmMs + " restored " + restored.get() + " in " + restoreMs);
      }
    });
    CountDownLatch closed = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      // A clean close writes the store's checkpoint: the next start restores only what came after.
      streams.close(Duration.ofSeconds(60));
      System.out.println("PEER closed");
      closed.countDown();
    }));
    streams.start();
    closed.await();
  }
}
