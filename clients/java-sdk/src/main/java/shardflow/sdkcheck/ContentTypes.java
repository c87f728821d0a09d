package shardflow.sdkcheck;

import java.util.Map;
import java.util.TreeMap;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.core.interceptor.SdkExecutionAttribute;

/**
 * Records, per operation, the Content-Type the client sent and the one the server answered
 * with: shows whether CBOR was on or off on the wire.
 */
final class ContentTypes implements ExecutionInterceptor {
    private final Map<String, String> seen = new TreeMap<>();

    @Override
    public void afterTransmission(Context.AfterTransmission context, ExecutionAttributes attributes) {
        String operation = attributes.getAttribute(SdkExecutionAttribute.OPERATION_NAME);
        String sent = context.httpRequest().firstMatchingHeader("Content-Type").orElse("");
        String answered = context.httpResponse().firstMatchingHeader("Content-Type").orElse("");
        synchronized (this) {
            seen.put(operation, sent + " -> " + answered);
        }
    }

    synchronized Map<String, Object> seen() {
        return new TreeMap<>(seen);
    }
}
