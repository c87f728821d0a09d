package shardflow.sdkcheck;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.TrustManager;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.http.Protocol;
import software.amazon.awssdk.http.nio.netty.NettyNioAsyncHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.kinesis.KinesisAsyncClient;
import software.amazon.awssdk.services.kinesis.model.ConsumerStatus;
import software.amazon.awssdk.services.kinesis.model.PutRecordsRequestEntry;
import software.amazon.awssdk.services.kinesis.model.PutRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.PutRecordsResultEntry;
import software.amazon.awssdk.services.kinesis.model.Shard;
import software.amazon.awssdk.services.kinesis.model.ShardIteratorType;
import software.amazon.awssdk.services.kinesis.model.StreamStatus;
import software.amazon.awssdk.services.kinesis.model.SubscribeToShardResponseHandler;

/** Enhanced fan-out with the async client: Netty, HTTPS + HTTP/2, SubscribeToShard on every shard. */
final class FanOutCheck {
    private static final Duration DEADLINE = Duration.ofSeconds(60);

    private FanOutCheck() {}

    static Map<String, Object> run(String endpoint, String caFile, String stream) throws Exception {
        NettyNioAsyncHttpClient.Builder http = NettyNioAsyncHttpClient.builder().protocol(Protocol.HTTP2);
        if (caFile != null) {
            TrustManager[] trust = Trust.onlyCa(Path.of(caFile));
            http.tlsTrustManagersProvider(() -> trust);
        }
        ContentTypes contentTypes = new ContentTypes();
        try (KinesisAsyncClient kinesis = KinesisAsyncClient.builder()
                .endpointOverride(URI.create(endpoint))
                .region(Region.US_EAST_1)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create("AKIDSHARDFLOW", "secret")))
                .httpClientBuilder(http)
                .overrideConfiguration(c -> c.addExecutionInterceptor(contentTypes))
                .build()) {
            kinesis.createStream(r -> r.streamName(stream).shardCount(2)).join();
            waitActive(kinesis, stream);
            String streamArn = kinesis.describeStreamSummary(r -> r.streamName(stream)).join()
                    .streamDescriptionSummary().streamARN();
            String liveArn = register(kinesis, streamArn, "java-efo-live");
            String consumerArn = register(kinesis, streamArn, "java-efo");
            List<String> shards = new ArrayList<>();
            for (Shard shard : kinesis.listShards(r -> r.streamName(stream)).join().shards()) {
                shards.add(shard.shardId());
            }
            // Live: subscribed at LATEST before anything is written, the records are pushed.
            Map<String, ShardSubscriber> live = new LinkedHashMap<>();
            for (String id : shards) {
                live.put(id, subscribe(kinesis, liveArn, id, ShardIteratorType.LATEST));
                live.get(id).ready.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
            }
            List<Map<String, Object>> put = write(kinesis, stream);
            Map<String, Object> pushed = new LinkedHashMap<>();
            for (String id : shards) {
                long expected = put.stream().filter(w -> id.equals(w.get("shard"))).count();
                pushed.put(id, live.get(id).await(expected, DEADLINE));
            }
            // Replay: a second consumer reads every shard from TRIM_HORIZON.
            Map<String, Object> subscribed = new LinkedHashMap<>();
            for (String id : shards) {
                long expected = put.stream().filter(w -> id.equals(w.get("shard"))).count();
                subscribed.put(id, subscribe(kinesis, consumerArn, id, ShardIteratorType.TRIM_HORIZON)
                        .await(expected, DEADLINE));
            }
            Map<String, Object> summary = new LinkedHashMap<>();
            summary.put("stream", stream);
            summary.put("endpoint", endpoint);
            summary.put("protocol", "HTTP/2 (Netty, Protocol.HTTP2)");
            summary.put("shards", shards);
            summary.put("put", put);
            summary.put("consumer_arn", consumerArn);
            summary.put("subscribe", subscribed);
            summary.put("subscribe_live", pushed);
            summary.put("content_types", contentTypes.seen());
            return summary;
        }
    }

    static void waitActive(KinesisAsyncClient kinesis, String stream) throws InterruptedException {
        Instant deadline = Instant.now().plus(DEADLINE);
        while (kinesis.describeStreamSummary(r -> r.streamName(stream)).join().streamDescriptionSummary()
                .streamStatus() != StreamStatus.ACTIVE) {
            if (Instant.now().isAfter(deadline)) throw new IllegalStateException(stream + " not ACTIVE");
            Thread.sleep(100);
        }
    }

    static void waitConsumerActive(KinesisAsyncClient kinesis, String arn) throws InterruptedException {
        Instant deadline = Instant.now().plus(DEADLINE);
        while (kinesis.describeStreamConsumer(r -> r.consumerARN(arn)).join().consumerDescription()
                .consumerStatus() != ConsumerStatus.ACTIVE) {
            if (Instant.now().isAfter(deadline)) throw new IllegalStateException(arn + " not ACTIVE");
            Thread.sleep(100);
        }
    }

    static List<Map<String, Object>> write(KinesisAsyncClient kinesis, String stream) {
        List<PutRecordsRequestEntry> entries = new ArrayList<>();
        for (int i = 0; i < Main.RECORDS; i++) {
            entries.add(PutRecordsRequestEntry.builder().partitionKey("key-" + i)
                    .data(SdkBytes.fromUtf8String("java-efo-" + i)).build());
        }
        PutRecordsResponse batch = kinesis.putRecords(r -> r.streamName(stream).records(entries)).join();
        if (batch.failedRecordCount() != null && batch.failedRecordCount() != 0) {
            throw new IllegalStateException("PutRecords failed entries: " + batch);
        }
        List<Map<String, Object>> out = new ArrayList<>();
        for (int i = 0; i < batch.records().size(); i++) {
            PutRecordsResultEntry e = batch.records().get(i);
            out.add(SyncCheck.written("java-efo-" + i, "key-" + i, e.shardId(), e.sequenceNumber()));
        }
        return out;
    }

    static String register(KinesisAsyncClient kinesis, String streamArn, String name) throws InterruptedException {
        String arn = kinesis.registerStreamConsumer(r -> r.streamARN(streamArn).consumerName(name))
                .join().consumer().consumerARN();
        waitConsumerActive(kinesis, arn);
        return arn;
    }

    /** Subscribes to one shard at `position`; the subscriber collects what arrives. */
    static ShardSubscriber subscribe(KinesisAsyncClient kinesis, String consumerArn, String shard,
            ShardIteratorType position) {
        ShardSubscriber subscriber = new ShardSubscriber();
        SubscribeToShardResponseHandler handler = SubscribeToShardResponseHandler.builder()
                .onResponse(response -> subscriber.ready.complete(null))
                .onError(subscriber::fail)
                .onEventStream(publisher -> publisher.subscribe(subscriber))
                .build();
        kinesis.subscribeToShard(r -> r.consumerARN(consumerArn).shardId(shard)
                .startingPosition(p -> p.type(position)), handler);
        return subscriber;
    }
}
