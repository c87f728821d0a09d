package shardflow.sdkcheck;

import java.util.Map;

/**
 * Drives Shardflow with the AWS SDK for Java v2, as a user's program would, and prints one JSON
 * summary on stdout for tests/sdk/test_java_sdk.py.
 *
 * <p>Usage: {@code Main sync STREAM} (KinesisClient, Apache HTTP client: CBOR by default,
 * JSON with {@code -Daws.cborEnabled=false}) or {@code Main fanout STREAM} (KinesisAsyncClient,
 * Netty HTTP/2: over HTTPS, or h2c to an http endpoint; SubscribeToShard). SHARDFLOW_ENDPOINT
 * names the server and, for the fanout mode over https, SHARDFLOW_CA_FILE the only CA to trust
 * (the sync mode uses the JVM's trust: {@code -Djavax.net.ssl.trustStore}).
 */
public final class Main {
    static final int RECORDS = 20;

    private Main() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: Main sync|fanout STREAM");
            System.exit(2);
        }
        String endpoint = System.getenv("SHARDFLOW_ENDPOINT");
        Map<String, Object> summary = switch (args[0]) {
            case "sync" -> SyncCheck.run(endpoint, args[1]);
            case "fanout" -> FanOutCheck.run(endpoint, System.getenv("SHARDFLOW_CA_FILE"), args[1]);
            default -> throw new IllegalArgumentException("unknown mode " + args[0]);
        };
        System.out.println(Json.write(summary));
        System.exit(0); // Netty's event loop threads would keep the JVM alive for their quiet period
    }
}
