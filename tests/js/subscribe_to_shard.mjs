// SubscribeToShard (enhanced fan-out) with the AWS SDK for JavaScript v3 against an endpoint.
//
//   AWS_ENDPOINT_URL_KINESIS=http://127.0.0.1:PORT node subscribe_to_shard.mjs h2|h1
//
// h2: the client's default request handler (NodeHttp2Handler: h2c with prior knowledge).
// h1: an explicit NodeHttpHandler (HTTP/1.1, chunked event stream).
// Registers a consumer, subscribes at TRIM_HORIZON, puts records from the same client while the
// subscription is open and reads them from the event stream. Prints one JSON summary line.

import { randomUUID } from "node:crypto";

import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamConsumerCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  PutRecordCommand,
  RegisterStreamConsumerCommand,
  SubscribeToShardCommand,
} from "@aws-sdk/client-kinesis";
import { NodeHttpHandler } from "@smithy/node-http-handler";

const EARLY = 3;
const LATE = 5;
const WATCHDOG_MS = Number(process.env.SMOKE_TIMEOUT_MS || 60_000);
const mode = process.argv[2];
const summary = {
  ok: false,
  mode: mode ?? null,
  handler: null,
  received: [],
  sequence_numbers_match: false,
  continuation: null,
  errors: [],
};

function finish(code) {
  summary.ok = code === 0 && summary.errors.length === 0;
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  process.exit(summary.ok ? 0 : 1);
}
setTimeout(() => {
  summary.errors.push(`watchdog: no result within ${WATCHDOG_MS} ms`);
  finish(1);
}, WATCHDOG_MS).unref();

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const config = mode === "h1" ? { requestHandler: new NodeHttpHandler() } : {};
  const client = new KinesisClient({ ...config, maxAttempts: 1 });
  summary.handler = client.config.requestHandler?.constructor?.name ?? null;
  const stream = `js-efo-${randomUUID().slice(0, 8)}`;
  await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
  let streamArn = null;
  for (let i = 0; i < 100; i++) {
    const s = await client.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
    streamArn = s.StreamDescriptionSummary.StreamARN;
    if (s.StreamDescriptionSummary.StreamStatus === "ACTIVE") break;
    await sleep(50);
  }
  try {
    const reg = await client.send(
      new RegisterStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: "js" }),
    );
    const consumerArn = reg.Consumer.ConsumerARN;
    for (let i = 0; i < 100; i++) {
      const d = await client.send(new DescribeStreamConsumerCommand({ ConsumerARN: consumerArn }));
      if (d.ConsumerDescription.ConsumerStatus === "ACTIVE") break;
      await sleep(50);
    }
    const sent = [];
    const put = async (data) => {
      const r = await client.send(
        new PutRecordCommand({ StreamName: stream, Data: Buffer.from(data), PartitionKey: "k" }),
      );
      sent.push(r.SequenceNumber);
    };
    for (let i = 0; i < EARLY; i++) await put(`early-${i}`);
    const abort = new AbortController();
    const out = await client.send(
      new SubscribeToShardCommand({
        ConsumerARN: consumerArn,
        ShardId: "shardId-000000000000",
        StartingPosition: { Type: "TRIM_HORIZON" },
      }),
      { abortSignal: abort.signal },
    );
    const seqs = [];
    let producing = null;
    for await (const event of out.EventStream) {
      if (!event.SubscribeToShardEvent) {
        summary.errors.push(`unexpected event ${JSON.stringify(Object.keys(event))}`);
        continue;
      }
      const e = event.SubscribeToShardEvent;
      for (const r of e.Records) {
        summary.received.push(Buffer.from(r.Data).toString());
        seqs.push(r.SequenceNumber);
      }
      if (e.Records.length) summary.continuation = e.ContinuationSequenceNumber;
      if (producing === null && summary.received.length >= EARLY) {
        producing = (async () => {
          for (let i = 0; i < LATE; i++) await put(`late-${i}`);
        })();
      }
      if (summary.received.length >= EARLY + LATE) break;
    }
    await producing;
    abort.abort();
    summary.sequence_numbers_match = JSON.stringify(seqs) === JSON.stringify(sent);
  } finally {
    await client.send(new DeleteStreamCommand({ StreamName: stream, EnforceConsumerDeletion: true }));
    client.destroy();
  }
}

main().then(
  () => finish(0),
  (err) => {
    summary.errors.push(`${err?.name}: ${err?.message}`);
    finish(1);
  },
);
