package shardflow.sdkcheck;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;
import software.amazon.awssdk.services.kinesis.model.Record;
import software.amazon.awssdk.services.kinesis.model.SubscribeToShardEvent;
import software.amazon.awssdk.services.kinesis.model.SubscribeToShardEventStream;

/**
 * One SubscribeToShard call's events: collects the records' data until told how many to wait
 * for, then cancels the stream. `ready` completes with the initial response.
 */
final class ShardSubscriber implements Subscriber<SubscribeToShardEventStream> {
    final CompletableFuture<Void> ready = new CompletableFuture<>();
    final CompletableFuture<Void> failed = new CompletableFuture<>();
    private final List<String> data = new ArrayList<>();
    private Subscription subscription;

    @Override
    public synchronized void onSubscribe(Subscription s) {
        subscription = s;
        s.request(1);
    }

    @Override
    public void onNext(SubscribeToShardEventStream event) {
        if (event instanceof SubscribeToShardEvent e) {
            synchronized (this) {
                for (Record r : e.records()) data.add(r.data().asUtf8String());
            }
        }
        request();
    }

    private synchronized void request() {
        subscription.request(1);
    }

    @Override
    public void onError(Throwable t) {
        fail(t);
    }

    @Override
    public void onComplete() {
        failed.complete(null); // the stream ended: no more records will come
    }

    void fail(Throwable t) {
        ready.completeExceptionally(t);
        failed.completeExceptionally(t);
    }

    private synchronized List<String> snapshot() {
        return new ArrayList<>(data);
    }

    /** The records once `expected` have arrived, then the stream is cancelled; fails on time-out. */
    List<String> await(long expected, Duration deadline) throws Exception {
        Instant end = Instant.now().plus(deadline);
        while (snapshot().size() < expected && !failed.isDone() && Instant.now().isBefore(end)) {
            Thread.sleep(20);
        }
        synchronized (this) {
            if (subscription != null) subscription.cancel();
        }
        if (failed.isCompletedExceptionally()) failed.join();
        List<String> got = snapshot();
        if (got.size() != expected) {
            throw new IllegalStateException("got " + got + ", expected " + expected + " records");
        }
        return got;
    }
}
