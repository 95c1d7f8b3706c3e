// Apache Avro for Java checking ctflow's Avro single-object messages (run with `java -cp JARS AvroCheck.java`).
//   fingerprint SCHEMA...         -> per schema: its Parsing Canonical Form, then its CRC-64-AVRO fingerprint
//                                    (signed long), one line each
//   roundtrip SCHEMA HEX...       -> per single-object message HEX: decode it with SCHEMA, print the record as
//                                    JSON, then Java's own single-object encoding of it as hex
//   resolve READER WRITER HEX     -> decode HEX written with WRITER into READER (schema resolution)
import java.io.File;
import java.nio.ByteBuffer;
import java.util.HexFormat;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;

public class AvroCheck {
  static Schema load(String path) throws Exception {
    return new Schema.Parser().parse(new File(path));
  }

  public static void main(String[] args) throws Exception {
    HexFormat hex = HexFormat.of();
    switch (args[0]) {
      case "fingerprint" -> {
        for (int i = 1; i < args.length; i++) {
          Schema s = load(args[i]);
          System.out.println(SchemaNormalization.toParsingForm(s));
          System.out.println(SchemaNormalization.parsingFingerprint64(s));
        }
      }
      case "roundtrip" -> {
        Schema s = load(args[1]);
        BinaryMessageDecoder<GenericRecord> decoder = new BinaryMessageDecoder<>(GenericData.get(), s);
        BinaryMessageEncoder<GenericRecord> encoder = new BinaryMessageEncoder<>(GenericData.get(), s);
        for (int i = 2; i < args.length; i++) {
          GenericRecord r = decoder.decode(hex.parseHex(args[i]));
          System.out.println(r);
          ByteBuffer out = encoder.encode(r);
          byte[] bytes = new byte[out.remaining()];
          out.get(bytes);
          System.out.println(hex.formatHex(bytes));
        }
      }
      case "resolve" -> {
        BinaryMessageDecoder<GenericRecord> decoder = new BinaryMessageDecoder<>(GenericData.get(), load(args[1]));
        decoder.addSchema(load(args[2]));
        System.out.println(decoder.decode(hex.parseHex(args[3])));
      }
      default -> throw new IllegalArgumentException("unknown command " + args[0]);
    }
  }
}
