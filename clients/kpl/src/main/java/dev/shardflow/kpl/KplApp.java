package dev.shardflow.kpl;

import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.kinesis.producer.Attempt;
import software.amazon.kinesis.producer.KinesisProducer;
import software.amazon.kinesis.producer.KinesisProducerConfiguration;
import software.amazon.kinesis.producer.UserRecordResult;

/**
 * Writes every event of --events (lines "partitionKey TAB data") through the KPL to --stream,
 * run by tests/sdk/test_kpl.py against `shardflow serve --tls`.
 *
 * <p>The KPL aggregates the events into KPL records and sends them with PutRecords from its
 * native daemon, over HTTPS to --host:--port, trusting the PEM CA --ca. One result line per
 * event goes to --out ("index TAB shardId TAB sequenceNumber TAB attempts", or "index TAB
 * FAILED TAB errorCode: message"); the exit status is 0 only if every event was acknowledged.
 */
public final class KplApp {
    private static final int MAX_OUTSTANDING = 20_000; // backpressure: the daemon's queue stays small

    private KplApp() {}

    public static void main(String[] argv) throws Exception {
        Map<String, String> args = parse(argv);
        String stream = args.get("stream");
        String host = args.getOrDefault("host", "127.0.0.1");
        long port = Long.parseLong(args.get("port"));

        KinesisProducerConfiguration config = new KinesisProducerConfiguration()
                .setRegion("us-east-1")
                .setKinesisEndpoint(host)
                .setKinesisPort(port)
                .setVerifyCertificate(true)
                .setCaCertFile(args.get("ca"))
                // Metrics are off; the endpoints still point at loopback so nothing could leave.
                .setMetricsLevel("none")
                .setCloudwatchEndpoint(host)
                .setCloudwatchPort(port)
                .setStsEndpoint(host)
                .setStsPort(port)
                .setCredentialsProvider(StaticCredentialsProvider.create(
                        AwsBasicCredentials.create("AKIDKPLTEST", "secret")))
                .setAggregationEnabled(true)
                .setRecordMaxBufferedTime(200)
                .setLogLevel("warning");
        if (args.containsKey("max-connections")) {
            config.setMaxConnections(Long.parseLong(args.get("max-connections")));
        }
        if (args.containsKey("temp")) {
            config.setTempDirectory(args.get("temp")); // the daemon is extracted once, then reused
        }

        List<String[]> events = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(Path.of(args.get("events")), StandardCharsets.UTF_8)) {
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                events.add(line.split("\t", 2));
            }
        }

        String[] results = new String[events.size()];
        CountDownLatch done = new CountDownLatch(events.size());
        KinesisProducer producer = new KinesisProducer(config);
        long started = System.nanoTime();
        for (int i = 0; i < events.size(); i++) {
            while (producer.getOutstandingRecordsCount() > MAX_OUTSTANDING) {
                Thread.sleep(1);
            }
            String[] event = events.get(i);
            ByteBuffer data = ByteBuffer.wrap(event[1].getBytes(StandardCharsets.UTF_8));
            ListenableFuture<UserRecordResult> future = producer.addUserRecord(stream, event[0], data);
            int index = i;
            Futures.addCallback(future, new FutureCallback<>() {
                @Override
                public void onSuccess(UserRecordResult r) {
                    results[index] = index + "\t" + r.getShardId() + "\t" + r.getSequenceNumber() + "\t"
                            + r.getAttempts().size();
                    done.countDown();
                }

                @Override
                public void onFailure(Throwable t) {
                    results[index] = index + "\tFAILED\t" + describe(t);
                    done.countDown();
                }
            }, MoreExecutors.directExecutor());
        }
        producer.flushSync();
        boolean all = done.await(5, TimeUnit.MINUTES);
        double seconds = (System.nanoTime() - started) / 1e9;
        producer.destroy();

        int failed = 0;
        try (BufferedWriter out = Files.newBufferedWriter(Path.of(args.get("out")), StandardCharsets.UTF_8)) {
            for (int i = 0; i < results.length; i++) {
                String line = results[i] == null ? i + "\tFAILED\tno result" : results[i];
                failed += line.contains("\tFAILED\t") ? 1 : 0;
                out.write(line);
                out.write('\n');
            }
        }
        System.out.printf(
                "sent %d events in %.1f s, %d failed%s%n", events.size(), seconds, failed, all ? "" : " (timed out)");
        System.exit(failed == 0 && all ? 0 : 1);
    }

    /** The last attempt's error, which says why the KPL gave up on a record. */
    private static String describe(Throwable t) {
        if (t instanceof software.amazon.kinesis.producer.UserRecordFailedException failed) {
            List<Attempt> attempts = failed.getResult().getAttempts();
            if (!attempts.isEmpty()) {
                Attempt last = attempts.get(attempts.size() - 1);
                return last.getErrorCode() + ": " + last.getErrorMessage();
            }
        }
        return t.toString();
    }

    private static Map<String, String> parse(String[] argv) {
        Map<String, String> args = new HashMap<>();
        for (int i = 0; i + 1 < argv.length; i += 2) {
            args.put(argv[i].replaceFirst("^--", ""), argv[i + 1]);
        }
        return args;
    }
}
