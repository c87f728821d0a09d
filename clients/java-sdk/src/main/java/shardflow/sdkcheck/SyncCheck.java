package shardflow.sdkcheck;

import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.kinesis.model.GetRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.KinesisException;
import software.amazon.awssdk.services.kinesis.model.PutRecordResponse;
import software.amazon.awssdk.services.kinesis.model.PutRecordsRequestEntry;
import software.amazon.awssdk.services.kinesis.model.PutRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.PutRecordsResultEntry;
import software.amazon.awssdk.services.kinesis.model.Record;
import software.amazon.awssdk.services.kinesis.model.Shard;
import software.amazon.awssdk.services.kinesis.model.ShardIteratorType;
import software.amazon.awssdk.services.kinesis.model.StreamStatus;

/** The data plane with the synchronous client: CreateStream, PutRecord(s), ListShards, GetRecords. */
final class SyncCheck {
    private SyncCheck() {}

    static Map<String, Object> run(String endpoint, String stream) throws Exception {
        ContentTypes contentTypes = new ContentTypes();
        try (KinesisClient kinesis = KinesisClient.builder()
                .endpointOverride(URI.create(endpoint))
                .region(Region.US_EAST_1)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create("AKIDSHARDFLOW", "secret")))
                .overrideConfiguration(c -> c.addExecutionInterceptor(contentTypes))
                .build()) {
            Instant started = Instant.now();
            kinesis.createStream(r -> r.streamName(stream).shardCount(2));
            waitActive(kinesis, stream);
            List<Map<String, Object>> put = write(kinesis, stream);
            List<String> shards = new ArrayList<>();
            Map<String, Object> got = new LinkedHashMap<>();
            for (Shard shard : kinesis.listShards(r -> r.streamName(stream)).shards()) {
                shards.add(shard.shardId());
                got.put(shard.shardId(), read(kinesis, stream, shard.shardId()));
            }
            Map<String, Object> summary = new LinkedHashMap<>();
            summary.put("stream", stream);
            summary.put("endpoint", endpoint);
            summary.put("cbor_enabled_property", System.getProperty("aws.cborEnabled"));
            summary.put("started_ms", started.toEpochMilli());
            summary.put("shards", shards);
            summary.put("put", put);
            summary.put("get_records", got);
            summary.put("errors", errors(kinesis, stream));
            summary.put("timestamps", timestamps(kinesis, stream, shards, started));
            summary.put("content_types", contentTypes.seen());
            return summary;
        }
    }

    /** Two refusals, as the SDK surfaces them: its exception class, AWS's error code and message. */
    static Map<String, Object> errors(KinesisClient kinesis, String stream) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("missing_shard", refusal(() -> kinesis.getShardIterator(r -> r.streamName(stream)
                .shardId(MISSING_SHARD).shardIteratorType(ShardIteratorType.TRIM_HORIZON))));
        out.put("bad_sequence", refusal(() -> kinesis.getShardIterator(r -> r.streamName(stream)
                .shardId("shardId-000000000000").shardIteratorType(ShardIteratorType.AT_SEQUENCE_NUMBER)
                .startingSequenceNumber(BAD_SEQUENCE))));
        return out;
    }

    /**
     * Timestamps both ways: the stream's creation time as DescribeStreamSummary and ListStreams
     * report it, and the records read from an AT_TIMESTAMP iterator a little before the run
     * began (all of them) and now, after the writes (none).
     */
    static Map<String, Object> timestamps(KinesisClient kinesis, String stream, List<String> shards, Instant started) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("created_ms", kinesis.describeStreamSummary(r -> r.streamName(stream)).streamDescriptionSummary()
                .streamCreationTimestamp().toEpochMilli());
        out.put("listed_created_ms", kinesis.listStreams(r -> r.limit(1000)).streamSummaries().stream()
                .filter(s -> s.streamName().equals(stream)).findFirst().orElseThrow()
                .streamCreationTimestamp().toEpochMilli());
        Instant after = Instant.now(); // every record arrived before (AWS refuses a future time)
        Map<String, Object> before = new LinkedHashMap<>();
        Map<String, Object> later = new LinkedHashMap<>();
        for (String shard : shards) {
            before.put(shard, readAt(kinesis, stream, shard, started.minusSeconds(5)).size());
            later.put(shard, readAt(kinesis, stream, shard, after).size());
        }
        out.put("at_timestamp_before_run", before);
        out.put("at_timestamp_after_writes", later);
        return out;
    }

    static List<String> readAt(KinesisClient kinesis, String stream, String shard, Instant at) {
        String iterator = kinesis.getShardIterator(r -> r.streamName(stream).shardId(shard)
                .shardIteratorType(ShardIteratorType.AT_TIMESTAMP).timestamp(at)).shardIterator();
        List<String> out = new ArrayList<>();
        for (Record record : kinesis.getRecords(r -> r.shardIterator(iterator)).records()) {
            out.add(record.data().asUtf8String());
        }
        return out;
    }

    static final String MISSING_SHARD = "shardId-000000000009";
    static final String BAD_SEQUENCE = "1";

    static Map<String, Object> refusal(Runnable call) {
        try {
            call.run();
        } catch (KinesisException e) {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("type", e.getClass().getSimpleName());
            out.put("code", e.awsErrorDetails().errorCode());
            out.put("message", e.awsErrorDetails().errorMessage());
            out.put("status", e.statusCode());
            return out;
        }
        throw new IllegalStateException("the call was not refused");
    }

    static void waitActive(KinesisClient kinesis, String stream) throws InterruptedException {
        Instant deadline = Instant.now().plus(Duration.ofSeconds(60));
        while (kinesis.describeStreamSummary(r -> r.streamName(stream)).streamDescriptionSummary().streamStatus()
                != StreamStatus.ACTIVE) {
            if (Instant.now().isAfter(deadline)) throw new IllegalStateException(stream + " not ACTIVE");
            Thread.sleep(100);
        }
    }

    /** One PutRecord, then one PutRecords for the rest. */
    static List<Map<String, Object>> write(KinesisClient kinesis, String stream) {
        List<Map<String, Object>> out = new ArrayList<>();
        PutRecordResponse one = kinesis.putRecord(r -> r.streamName(stream).partitionKey("key-0")
                .data(SdkBytes.fromUtf8String("java-0")));
        out.add(written("java-0", "key-0", one.shardId(), one.sequenceNumber()));
        List<PutRecordsRequestEntry> entries = new ArrayList<>();
        for (int i = 1; i < Main.RECORDS; i++) {
            entries.add(PutRecordsRequestEntry.builder().partitionKey("key-" + i)
                    .data(SdkBytes.fromUtf8String("java-" + i)).build());
        }
        PutRecordsResponse batch = kinesis.putRecords(r -> r.streamName(stream).records(entries));
        if (batch.failedRecordCount() != null && batch.failedRecordCount() != 0) {
            throw new IllegalStateException("PutRecords failed entries: " + batch);
        }
        for (int i = 0; i < batch.records().size(); i++) {
            PutRecordsResultEntry e = batch.records().get(i);
            out.add(written("java-" + (i + 1), "key-" + (i + 1), e.shardId(), e.sequenceNumber()));
        }
        return out;
    }

    static Map<String, Object> written(String data, String key, String shard, String seq) {
        Map<String, Object> w = new LinkedHashMap<>();
        w.put("data", data);
        w.put("key", key);
        w.put("shard", shard);
        w.put("seq", seq);
        return w;
    }

    /** Every record of a shard from TRIM_HORIZON, by GetRecords until an empty page. */
    static List<Map<String, Object>> read(KinesisClient kinesis, String stream, String shard) {
        String iterator = kinesis.getShardIterator(r -> r.streamName(stream).shardId(shard)
                .shardIteratorType(ShardIteratorType.TRIM_HORIZON)).shardIterator();
        List<Map<String, Object>> out = new ArrayList<>();
        while (true) {
            String current = iterator;
            GetRecordsResponse page = kinesis.getRecords(r -> r.shardIterator(current));
            if (page.records().isEmpty()) return out;
            for (Record record : page.records()) {
                Map<String, Object> r = written(record.data().asUtf8String(), record.partitionKey(), shard,
                        record.sequenceNumber());
                r.put("arrival_ms", record.approximateArrivalTimestamp().toEpochMilli());
                out.add(r);
            }
            iterator = page.nextShardIterator();
        }
    }
}
