package dev.shardflow.kcl;

import java.nio.ByteBuffer;
import java.util.List;
import software.amazon.kinesis.lifecycle.events.InitializationInput;
import software.amazon.kinesis.lifecycle.events.LeaseLostInput;
import software.amazon.kinesis.lifecycle.events.ProcessRecordsInput;
import software.amazon.kinesis.lifecycle.events.ShardEndedInput;
import software.amazon.kinesis.lifecycle.events.ShutdownRequestedInput;
import software.amazon.kinesis.processor.ShardRecordProcessor;
import software.amazon.kinesis.retrieval.KinesisClientRecord;

/**
 * A record processor for one shard: logs each record, then checkpoints after every batch, so a
 * worker that dies redelivers at most the batch it was on (the KCL's at-least-once promise).
 */
final class LoggingProcessor implements ShardRecordProcessor {
    private final ProcessedLog log;
    private String shard;

    LoggingProcessor(ProcessedLog log) {
        this.log = log;
    }

    @Override
    public void initialize(InitializationInput input) {
        shard = input.shardId();
        // where this lease resumes: the last checkpoint, or TRIM_HORIZON for a new one
        log.event("init", shard, "seq", input.extendedSequenceNumber().sequenceNumber());
    }

    @Override
    public void processRecords(ProcessRecordsInput input) {
        List<KinesisClientRecord> records = input.records();
        if (records.isEmpty()) {
            return;
        }
        for (KinesisClientRecord r : records) {
            ByteBuffer data = r.data().duplicate();
            byte[] bytes = new byte[data.remaining()];
            data.get(bytes);
            log.record(shard, r.sequenceNumber(), r.subSequenceNumber(), r.partitionKey(), bytes);
        }
        log.flush();
        KinesisClientRecord last = records.get(records.size() - 1);
        try {
            input.checkpointer().checkpoint(last.sequenceNumber(), last.subSequenceNumber());
            log.checkpoint(shard, last.sequenceNumber(), last.subSequenceNumber());
        } catch (Exception e) {
            // ShutdownException: the lease moved on; the next owner starts from the last checkpoint
            log.event("ckpt-failed", shard, "error", e.toString());
        }
    }

    @Override
    public void leaseLost(LeaseLostInput input) {
        log.event("lost", shard, null, null);
    }

    @Override
    public void shardEnded(ShardEndedInput input) {
        try {
            input.checkpointer().checkpoint();
            log.event("end", shard, null, null);
        } catch (Exception e) {
            log.event("end-failed", shard, "error", e.toString());
        }
    }

    @Override
    public void shutdownRequested(ShutdownRequestedInput input) {
        try {
            input.checkpointer().checkpoint();
        } catch (Exception e) {
            // shutting down anyway; the next owner starts from the last checkpoint
        }
        log.event("shutdown", shard, null, null);
    }
}
