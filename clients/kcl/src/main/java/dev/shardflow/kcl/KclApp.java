package dev.shardflow.kcl;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.http.Protocol;
import software.amazon.awssdk.http.nio.netty.Http2Configuration;
import software.amazon.awssdk.http.nio.netty.NettyNioAsyncHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.cloudwatch.CloudWatchAsyncClient;
import software.amazon.awssdk.services.dynamodb.DynamoDbAsyncClient;
import software.amazon.awssdk.services.kinesis.KinesisAsyncClient;
import software.amazon.kinesis.common.ConfigsBuilder;
import software.amazon.kinesis.common.InitialPositionInStream;
import software.amazon.kinesis.common.InitialPositionInStreamExtended;
import software.amazon.kinesis.coordinator.CoordinatorConfig;
import software.amazon.kinesis.coordinator.Scheduler;
import software.amazon.kinesis.leases.LeaseManagementConfig;
import software.amazon.kinesis.metrics.MetricsLevel;
import software.amazon.kinesis.metrics.NullMetricsFactory;
import software.amazon.kinesis.retrieval.RetrievalConfig;
import software.amazon.kinesis.retrieval.fanout.FanOutConfig;
import software.amazon.kinesis.retrieval.polling.PollingConfig;

/**
 * One KCL 3.x worker, run by tests/sdk/test_kcl.py against `shardflow serve` (Kinesis) and a
 * DynamoDB-compatible server on loopback (leases, coordinator state, worker metrics).
 *
 * <p>Every record it processes, every checkpoint and every lease event is appended to --out as a
 * JSON line (see {@link ProcessedLog}), so the test can check what the KCL promises: nothing
 * lost, per-key order within a shard, checkpoints that advance, parents before children.
 *
 * <p>Arguments, all --name value: stream, app, worker, out, kinesis (endpoint URL; https uses
 * HTTP/2 and trusts --ca), dynamodb (endpoint URL), retrieval (polling|fanout), failover-ms.
 */
public final class KclApp {
    private static final Region REGION = Region.US_EAST_1;
    private static final StaticCredentialsProvider CREDENTIALS =
            StaticCredentialsProvider.create(AwsBasicCredentials.create("AKIDKCLTEST", "secret"));

    private KclApp() {}

    public static void main(String[] argv) throws Exception {
        Map<String, String> args = parse(argv);
        String stream = required(args, "stream");
        String app = required(args, "app");
        String worker = args.getOrDefault("worker", UUID.randomUUID().toString());
        long failoverMs = Long.parseLong(args.getOrDefault("failover-ms", "10000"));
        boolean fanOut = "fanout".equals(args.getOrDefault("retrieval", "polling"));
        URI kinesisEndpoint = URI.create(required(args, "kinesis"));
        URI dynamoEndpoint = URI.create(required(args, "dynamodb"));

        KinesisAsyncClient kinesis = KinesisAsyncClient.builder()
                .endpointOverride(kinesisEndpoint)
                .region(REGION)
                .credentialsProvider(CREDENTIALS)
                .httpClientBuilder(kinesisHttp(kinesisEndpoint, args.get("ca")))
                .build();
        DynamoDbAsyncClient dynamo = DynamoDbAsyncClient.builder()
                .endpointOverride(dynamoEndpoint)
                .region(REGION)
                .credentialsProvider(CREDENTIALS)
                .build();
        // Metrics are off (MetricsLevel.NONE, NullMetricsFactory): this client is never called, and
        // points at loopback so that nothing could leave the machine if it were.
        CloudWatchAsyncClient cloudWatch = CloudWatchAsyncClient.builder()
                .endpointOverride(dynamoEndpoint)
                .region(REGION)
                .credentialsProvider(CREDENTIALS)
                .build();

        ProcessedLog log = new ProcessedLog(Path.of(required(args, "out")), worker);
        ConfigsBuilder configs = new ConfigsBuilder(
                stream, app, kinesis, dynamo, cloudWatch, worker, () -> new LoggingProcessor(log));

        LeaseManagementConfig leases = configs.leaseManagementConfig()
                .failoverTimeMillis(failoverMs)
                .shardSyncIntervalMillis(failoverMs)
                .dynamoDbLockBasedLeaderLeaseDurationInMillis(2 * failoverMs)
                .dynamoDbLockBasedLeaderHeartbeatPeriodInMillis(failoverMs / 2)
                .initialPositionInStream(
                        InitialPositionInStreamExtended.newInitialPosition(InitialPositionInStream.TRIM_HORIZON));
        // No CPU metrics: choosing them probes EC2's instance metadata address, which is no loopback
        // address; without them the leader balances leases by throughput, as on any non-AWS host.
        leases.workerUtilizationAwareAssignmentConfig()
                .disableWorkerMetrics(true)
                .workerMetricsReporterFreqInMillis(failoverMs / 2);
        leases.gracefulLeaseHandoffConfig().gracefulLeaseHandoffTimeoutMillis(failoverMs);

        RetrievalConfig retrieval = configs.retrievalConfig()
                .initialPositionInStreamExtended(
                        InitialPositionInStreamExtended.newInitialPosition(InitialPositionInStream.TRIM_HORIZON));
        if (fanOut) {
            retrieval.retrievalSpecificConfig(
                    new FanOutConfig(kinesis).streamName(stream).applicationName(app));
        } else {
            retrieval.retrievalSpecificConfig(
                    new PollingConfig(stream, kinesis).idleTimeBetweenReadsInMillis(PollingConfig.MIN_IDLE_MILLIS_BETWEEN_READS));
        }

        CoordinatorConfig coordinator = configs.coordinatorConfig()
                .parentShardPollIntervalMillis(500)
                .shardConsumerDispatchPollIntervalMillis(200);

        Scheduler scheduler = new Scheduler(
                configs.checkpointConfig(),
                coordinator,
                leases,
                configs.lifecycleConfig(),
                configs.metricsConfig().metricsLevel(MetricsLevel.NONE).metricsFactory(new NullMetricsFactory()),
                configs.processorConfig(),
                retrieval);

        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                scheduler.startGracefulShutdown().get();
            } catch (Exception e) {
                System.err.println("graceful shutdown failed: " + e);
            }
            log.close();
        }));
        log.event("start", null, "retrieval", fanOut ? "fanout" : "polling");
        scheduler.run();
    }

    /** HTTP/2 over TLS trusting --ca for https (SubscribeToShard needs it); HTTP/1.1 for http. */
    private static NettyNioAsyncHttpClient.Builder kinesisHttp(URI endpoint, String ca)
            throws IOException, java.security.GeneralSecurityException {
        NettyNioAsyncHttpClient.Builder http = NettyNioAsyncHttpClient.builder().maxConcurrency(Integer.MAX_VALUE);
        if (!"https".equals(endpoint.getScheme())) {
            return http.protocol(Protocol.HTTP1_1);
        }
        if (ca != null) {
            var trust = LocalTrust.fromPem(Path.of(ca));
            http.tlsTrustManagersProvider(() -> trust);
        }
        return http.protocol(Protocol.HTTP2)
                .http2Configuration(Http2Configuration.builder()
                        .initialWindowSize(512 * 1024)
                        .healthCheckPingPeriod(Duration.ofSeconds(10))
                        .build());
    }

    private static Map<String, String> parse(String[] argv) {
        Map<String, String> args = new HashMap<>();
        for (int i = 0; i + 1 < argv.length; i += 2) {
            if (!argv[i].startsWith("--")) {
                throw new IllegalArgumentException("expected --name value pairs, got " + argv[i]);
            }
            args.put(argv[i].substring(2), argv[i + 1]);
        }
        return args;
    }

    private static String required(Map<String, String> args, String name) {
        String value = args.get(name);
        if (value == null) {
            throw new IllegalArgumentException("missing --" + name);
        }
        return value;
    }
}
