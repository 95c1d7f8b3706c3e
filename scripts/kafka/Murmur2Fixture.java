// Writes test/fixtures/kafka/murmur2-java.json: for a set of keys, the hash and the partitions that Apache
// Kafka's own Java client computes (Utils.murmur2 and BuiltInPartitioner.partitionForKey, the default
// partitioner for keyed records). The fixture is the independent oracle for src/kafka/murmur2.ts.
// Regenerate: bash scripts/kafka/murmur2-fixture.sh
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.apache.kafka.common.utils.Utils;

public class Murmur2Fixture {
  static final int[] PARTITION_COUNTS = {1, 2, 3, 6, 7, 12, 64};

  public static void main(String[] args) {
    List<byte[]> keys = new ArrayList<>();
    String[] strings = {
      "", "a", "ab", "abc", "21", "foobar", "a-little-bit-long-string", "a-little-bit-longer-string",
      "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", "\u00fc", "\u6d41\u91cf", "\ud83d\ude80 flow",
      "node-1|0|6|10.0.0.1|40000|10.0.0.2|80"
    };
    for (String s : strings) keys.add(s.getBytes(StandardCharsets.UTF_8));
    for (int i = 0; i < 64; i++) keys.add(("flow-" + i).getBytes(StandardCharsets.UTF_8));
    keys.add(new byte[] {0});
    keys.add(new byte[] {(byte) 0xff});
    keys.add(new byte[] {(byte) 0x80, (byte) 0x81, (byte) 0x82});
    Random random = new Random(1417);
    for (int len = 1; len <= 40; len += 3) {
      byte[] b = new byte[len];
      random.nextBytes(b);
      keys.add(b);
    }
    StringBuilder out = new StringBuilder("[\n");
    for (int i = 0; i < keys.size(); i++) {
      byte[] key = keys.get(i);
      StringBuilder hex = new StringBuilder();
      for (byte x : key) hex.append(String.format("%02x", x & 0xff));
      StringBuilder parts = new StringBuilder();
      for (int j = 0; j < PARTITION_COUNTS.length; j++) {
        if (j > 0) parts.append(", ");
        int n = PARTITION_COUNTS[j];
        parts.append('"').append(n).append("\": ").append(BuiltInPartitioner.partitionForKey(key, n));
      }
      out.append("  {\"keyHex\": \"").append(hex).append("\", \"murmur2\": ").append(Utils.murmur2(key))
          .append(", \"partitions\": {").append(parts).append("}}").append(i + 1 < keys.size() ? ",\n" : "\n");
    }
    out.append("]\n");
    System.out.print(out);
  }
}
