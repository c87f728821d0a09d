package dev.shardflow.kcl;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Base64;

/**
 * What this worker did, one JSON object a line, for the Python test to check.
 *
 * <p>A batch's records are written and flushed to the OS before the checkpoint that covers them
 * is taken, so a `kill -9` can lose no line of a checkpointed record (the page cache survives
 * the process). Lines: {"ev":"rec","shard","seq","sub","key","data"(base64)}, {"ev":"ckpt",
 * "shard","seq","sub"}, {"ev":"init","shard","seq"} (where the lease starts), "end" (the shard's
 * SHARD_END checkpoint was taken), "lost", "shutdown", "start"; each with "worker" and "ms".
 */
final class ProcessedLog {
    private final BufferedWriter out;
    private final String worker;

    ProcessedLog(Path path, String worker) throws IOException {
        this.out = Files.newBufferedWriter(
                path, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        this.worker = worker;
    }

    /** One processed record; not flushed until {@link #flush()}. */
    synchronized void record(String shard, String seq, long sub, String key, byte[] data) {
        write(line("rec", shard)
                + ",\"seq\":\"" + seq + "\",\"sub\":" + sub
                + ",\"key\":" + quote(key)
                + ",\"data\":\"" + Base64.getEncoder().encodeToString(data) + "\"}");
    }

    synchronized void checkpoint(String shard, String seq, long sub) {
        write(line("ckpt", shard) + ",\"seq\":\"" + seq + "\",\"sub\":" + sub + "}");
        flush();
    }

    /** A lease event, with one optional extra string field; flushed at once. */
    synchronized void event(String ev, String shard, String field, String value) {
        String extra = field == null ? "" : ",\"" + field + "\":" + quote(value);
        write(line(ev, shard) + extra + "}");
        flush();
    }

    synchronized void flush() {
        try {
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    synchronized void close() {
        try {
            out.close();
        } catch (IOException e) {
            // the JVM is exiting; nothing more to write
        }
    }

    private String line(String ev, String shard) {
        return "{\"ev\":\"" + ev + "\",\"worker\":" + quote(worker) + ",\"ms\":" + System.currentTimeMillis()
                + ",\"shard\":" + (shard == null ? "null" : quote(shard));
    }

    private void write(String line) {
        try {
            out.write(line);
            out.write('\n');
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A JSON string: partition keys are arbitrary Unicode, so escape what JSON requires. */
    static String quote(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }
}
