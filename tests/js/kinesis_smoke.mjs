// Interoperability smoke test: the AWS SDK for JavaScript v3 Kinesis client against an endpoint.
//
//   AWS_ENDPOINT_URL_KINESIS=http://127.0.0.1:PORT node kinesis_smoke.mjs h2|h1
//
// h2: the client's DEFAULT request handler. For Kinesis the v3 SDK builds a NodeHttp2Handler,
//     which speaks cleartext HTTP/2 with prior knowledge (h2c) to an http:// endpoint.
// h1: an explicit `new NodeHttpHandler()` (HTTP/1.1).
//
// Credentials and region come from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_REGION). Prints exactly one JSON line on stdout (the summary) and exits 0 only if every
// check passed; progress and diagnostics go to stderr.

import { randomBytes, randomUUID } from "node:crypto";

import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  PutRecordCommand,
  PutRecordsCommand,
} from "@aws-sdk/client-kinesis";
import { NodeHttpHandler } from "@smithy/node-http-handler";

const ACCOUNT = "000000000000";
const SHARD_COUNT = 2;
const PUT_RECORD_COUNT = 20;
const PUT_RECORDS_COUNT = 100;
const WATCHDOG_MS = Number(process.env.SMOKE_TIMEOUT_MS || 90_000);
const MAX_HASH_KEY = (1n << 128n) - 1n;

const mode = process.argv[2];
const endpoint = process.env.AWS_ENDPOINT_URL_KINESIS;
const summary = {
  ok: false,
  mode: mode ?? null,
  endpoint: endpoint ?? null,
  handler: null,
  stream: null,
  shards: 0,
  put_record: 0,
  put_records: 0,
  read: 0,
  per_shard: {},
  not_found_error: null,
  deleted: false,
  errors: [],
};

let printed = false;
function finish(code) {
  if (!printed) {
    printed = true;
    summary.ok = code === 0 && summary.errors.length === 0;
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  }
  process.exitCode = summary.ok ? 0 : 1;
  return summary.ok ? 0 : 1;
}

function fail(message) {
  summary.errors.push(message);
  process.stderr.write(`MISMATCH: ${message}\n`);
}

function check(cond, message) {
  if (!cond) fail(message);
  return Boolean(cond);
}

function describeError(err) {
  const status = err?.$metadata?.httpStatusCode;
  const code = err?.code ? ` code=${err.code}` : "";
  return `${err?.name ?? "Error"}: ${err?.message ?? String(err)}${code}` +
    (status === undefined ? "" : ` (HTTP ${status})`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function bytesEqual(a, b) {
  return a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}

function hex(bytes) {
  const s = Buffer.from(bytes).toString("hex");
  return s.length > 40 ? `${s.slice(0, 40)}...(${bytes.length} bytes)` : s;
}

// A payload whose bytes are not valid UTF-8 text (0x00, 0xff, ...), so that any text
// round-trip or double base64 encoding in the server shows up as a mismatch.
function payload(tag, i) {
  const head = Buffer.from(`${tag}-${i}:`, "utf8");
  const tail = Buffer.from([0x00, 0xff, 0xfe, 0x80, i & 0xff, (i * 7) & 0xff]);
  return new Uint8Array(Buffer.concat([head, randomBytes(8 + (i % 17)), tail]));
}

// Partition keys: several ASCII keys, plus one with non-ASCII characters (MD5 of its UTF-8 bytes).
const KEYS = ["alpha", "bravo", "charlie", "delta", "echo", "ключ-é-🔑", "golf"];

function makeClient() {
  const config = { endpoint, maxAttempts: 1 };
  if (mode === "h1") config.requestHandler = new NodeHttpHandler();
  return new KinesisClient(config);
}

async function waitActive(client, name) {
  const deadline = Date.now() + 30_000;
  let status = null;
  while (Date.now() < deadline) {
    const out = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    status = out.StreamDescriptionSummary?.StreamStatus;
    if (status === "ACTIVE") return out.StreamDescriptionSummary;
    await sleep(100);
  }
  throw new Error(`stream ${name} not ACTIVE after 30 s (last status ${status})`);
}

// Reads a shard from TRIM_HORIZON until `want` records have come back and then one more
// GetRecords returns nothing new (so extra records would be seen too). Bounded in calls and time.
async function readShard(client, name, shardId, want) {
  const it = await client.send(new GetShardIteratorCommand({
    StreamName: name, ShardId: shardId, ShardIteratorType: "TRIM_HORIZON",
  }));
  let iterator = it.ShardIterator;
  check(typeof iterator === "string" && iterator.length > 0,
    `GetShardIterator ${shardId}: no ShardIterator`);
  const records = [];
  const deadline = Date.now() + 30_000;
  let calls = 0;
  while (iterator && calls < 200 && Date.now() < deadline) {
    const out = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
    calls += 1;
    records.push(...(out.Records ?? []));
    iterator = out.NextShardIterator;
    if (records.length >= want && (out.Records ?? []).length === 0) break;
    if ((out.Records ?? []).length === 0) await sleep(50);
  }
  check(iterator !== undefined && iterator !== null,
    `GetRecords ${shardId}: NextShardIterator missing on an open shard`);
  return { records, calls };
}

async function run() {
  if (mode !== "h1" && mode !== "h2") {
    fail(`usage: node kinesis_smoke.mjs h1|h2 (got ${JSON.stringify(mode)})`);
    return;
  }
  if (!endpoint) {
    fail("AWS_ENDPOINT_URL_KINESIS is not set");
    return;
  }
  const client = makeClient();
  summary.handler = client.config.requestHandler?.constructor?.name ?? null;
  if (mode === "h2") {
    check(summary.handler === "NodeHttp2Handler",
      `default request handler is ${summary.handler}, expected NodeHttp2Handler`);
  }
  const name = `js-smoke-${mode}-${randomUUID().replaceAll("-", "").slice(0, 12)}`;
  summary.stream = name;
  let created = false;
  try {
    // CreateStream + wait ACTIVE
    await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: SHARD_COUNT }));
    created = true;
    const desc = await waitActive(client, name);
    check(desc.StreamName === name, `DescribeStreamSummary StreamName ${desc.StreamName}`);
    check(desc.OpenShardCount === SHARD_COUNT,
      `DescribeStreamSummary OpenShardCount ${desc.OpenShardCount}, expected ${SHARD_COUNT}`);
    check(typeof desc.StreamARN === "string" && desc.StreamARN.endsWith(`:stream/${name}`),
      `DescribeStreamSummary StreamARN ${desc.StreamARN}`);

    // ListShards: SHARD_COUNT open shards covering the whole hash key space, contiguous.
    const ls = await client.send(new ListShardsCommand({ StreamName: name }));
    const shards = ls.Shards ?? [];
    summary.shards = shards.length;
    check(shards.length === SHARD_COUNT, `ListShards returned ${shards.length} shards`);
    const ranges = shards
      .map((s) => [BigInt(s.HashKeyRange.StartingHashKey), BigInt(s.HashKeyRange.EndingHashKey), s])
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    let next = 0n;
    for (const [start, end, s] of ranges) {
      check(start === next, `ListShards: ${s.ShardId} starts at ${start}, expected ${next}`);
      check(s.SequenceNumberRange?.StartingSequenceNumber !== undefined,
        `ListShards: ${s.ShardId} has no StartingSequenceNumber`);
      check(s.SequenceNumberRange?.EndingSequenceNumber === undefined,
        `ListShards: open shard ${s.ShardId} has an EndingSequenceNumber`);
      next = end + 1n;
    }
    check(next === MAX_HASH_KEY + 1n, `ListShards: hash key ranges end at ${next - 1n}`);
    const shardIds = new Set(shards.map((s) => s.ShardId));

    // Expected records per shard, in the order they were accepted.
    const expected = new Map([...shardIds].map((id) => [id, []]));
    const accept = (op, shardId, seq, data, key) => {
      if (!check(expected.has(shardId), `${op}: unknown ShardId ${shardId}`)) return;
      check(typeof seq === "string" && /^[0-9]+$/.test(seq), `${op}: bad SequenceNumber ${seq}`);
      expected.get(shardId).push({ seq, data, key });
    };

    // PutRecord x N, each with SequenceNumberForOrdering = the previous record's sequence number.
    let prevSeq;
    for (let i = 0; i < PUT_RECORD_COUNT; i += 1) {
      const data = payload("put-record", i);
      const key = KEYS[i % KEYS.length];
      const input = { StreamName: name, PartitionKey: key, Data: data };
      if (prevSeq !== undefined) input.SequenceNumberForOrdering = prevSeq;
      const out = await client.send(new PutRecordCommand(input));
      accept(`PutRecord #${i}`, out.ShardId, out.SequenceNumber, data, key);
      prevSeq = out.SequenceNumber;
      summary.put_record += 1;
    }

    // PutRecords with PUT_RECORDS_COUNT entries.
    const entries = [];
    for (let i = 0; i < PUT_RECORDS_COUNT; i += 1) {
      entries.push({ Data: payload("put-records", i), PartitionKey: `${KEYS[i % KEYS.length]}-${i}` });
    }
    const pr = await client.send(new PutRecordsCommand({ StreamName: name, Records: entries }));
    check((pr.FailedRecordCount ?? 0) === 0, `PutRecords FailedRecordCount ${pr.FailedRecordCount}`);
    check((pr.Records ?? []).length === entries.length,
      `PutRecords returned ${(pr.Records ?? []).length} results for ${entries.length} entries`);
    (pr.Records ?? []).forEach((r, i) => {
      if (check(!r.ErrorCode, `PutRecords entry ${i}: ${r.ErrorCode} ${r.ErrorMessage}`)) {
        accept(`PutRecords entry ${i}`, r.ShardId, r.SequenceNumber, entries[i].Data,
          entries[i].PartitionKey);
        summary.put_records += 1;
      }
    });

    // Sequence numbers assigned within a shard must increase in acceptance order.
    for (const [shardId, recs] of expected) {
      for (let i = 1; i < recs.length; i += 1) {
        check(BigInt(recs[i].seq) > BigInt(recs[i - 1].seq),
          `${shardId}: put #${i} got sequence ${recs[i].seq} <= previous ${recs[i - 1].seq}`);
      }
    }

    // GetShardIterator TRIM_HORIZON + GetRecords on each shard; compare with what was put.
    for (const shardId of shardIds) {
      const want = expected.get(shardId);
      const { records, calls } = await readShard(client, name, shardId, want.length);
      summary.per_shard[shardId] = { put: want.length, read: records.length, calls };
      summary.read += records.length;
      check(records.length === want.length,
        `${shardId}: read ${records.length} records, expected ${want.length}`);
      const n = Math.min(records.length, want.length);
      let shown = 0;
      for (let i = 0; i < n && shown < 5; i += 1) {
        const got = records[i];
        const exp = want[i];
        const problems = [];
        if (got.SequenceNumber !== exp.seq) problems.push(`seq ${got.SequenceNumber} != ${exp.seq}`);
        if (got.PartitionKey !== exp.key) {
          problems.push(`key ${JSON.stringify(got.PartitionKey)} != ${JSON.stringify(exp.key)}`);
        }
        if (!(got.Data instanceof Uint8Array) || !bytesEqual(got.Data, exp.data)) {
          problems.push(`data ${got.Data instanceof Uint8Array ? hex(got.Data) : typeof got.Data}` +
            ` != ${hex(exp.data)}`);
        }
        if (!(got.ApproximateArrivalTimestamp instanceof Date) ||
            Number.isNaN(got.ApproximateArrivalTimestamp.getTime())) {
          problems.push(`ApproximateArrivalTimestamp ${got.ApproximateArrivalTimestamp}`);
        }
        if (problems.length) {
          fail(`${shardId} record ${i}: ${problems.join("; ")}`);
          shown += 1;
        }
      }
    }

    // DescribeStream on a stream that does not exist.
    const missing = `js-smoke-missing-${randomUUID().replaceAll("-", "").slice(0, 12)}`;
    try {
      await client.send(new DescribeStreamCommand({ StreamName: missing }));
      fail(`DescribeStream ${missing}: succeeded, expected ResourceNotFoundException`);
    } catch (err) {
      summary.not_found_error = { name: err?.name, message: err?.message,
        status: err?.$metadata?.httpStatusCode };
      const want = `Stream ${missing} under account ${ACCOUNT} not found.`;
      check(err?.name === "ResourceNotFoundException",
        `DescribeStream missing: err.name ${err?.name} (${err?.message}), expected ResourceNotFoundException`);
      check(err?.message === want,
        `DescribeStream missing: message ${JSON.stringify(err?.message)}, expected ${JSON.stringify(want)}`);
      check(err?.$metadata?.httpStatusCode === 400,
        `DescribeStream missing: HTTP ${err?.$metadata?.httpStatusCode}, expected 400`);
    }

    // DeleteStream: afterwards the stream is DELETING or already gone.
    await client.send(new DeleteStreamCommand({ StreamName: name }));
    created = false;
    try {
      const out = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
      const status = out.StreamDescriptionSummary?.StreamStatus;
      check(status === "DELETING", `after DeleteStream: status ${status}, expected DELETING or gone`);
      summary.deleted = status === "DELETING";
    } catch (err) {
      summary.deleted = check(err?.name === "ResourceNotFoundException",
        `after DeleteStream: ${describeError(err)}`);
    }
  } catch (err) {
    fail(`unexpected error: ${describeError(err)}`);
    if (process.env.SMOKE_DEBUG) process.stderr.write(`${err?.stack ?? err}\n`);
  } finally {
    if (created) {
      try {
        await client.send(new DeleteStreamCommand({ StreamName: name }));
      } catch (err) {
        process.stderr.write(`cleanup DeleteStream ${name}: ${describeError(err)}\n`);
      }
    }
    client.destroy();
  }
}

for (const event of ["unhandledRejection", "uncaughtException"]) {
  process.on(event, (err) => {
    fail(`${event}: ${describeError(err)}`);
    process.exit(finish(1));
  });
}

const watchdog = setTimeout(() => {
  fail(`timed out after ${WATCHDOG_MS} ms`);
  finish(1);
  process.exit(1);
}, WATCHDOG_MS);
watchdog.unref();

await run();
clearTimeout(watchdog);
// Exit explicitly: a server that keeps an HTTP/2 session open must not keep node alive.
process.exit(finish(0));
