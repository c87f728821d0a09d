// Bundled by esbuild for a browser page (tests/test_browser_sdk.py): the AWS SDK for
// JavaScript v3's Kinesis client, with its browser runtime (fetch), doing a round trip against
// an endpoint of another origin, which must answer CORS for it to work at all.

import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  PutRecordCommand,
} from "@aws-sdk/client-kinesis";

async function roundTrip({ endpoint, region, stream, accessKeyId, secretAccessKey }) {
  const client = new KinesisClient({
    endpoint,
    region,
    credentials: { accessKeyId, secretAccessKey },
    maxAttempts: 1,
  });
  const created = await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
  let summary;
  for (let i = 0; i < 50; i++) {
    summary = (await client.send(new DescribeStreamSummaryCommand({ StreamName: stream })))
      .StreamDescriptionSummary;
    if (summary.StreamStatus === "ACTIVE") break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const put = await client.send(
    new PutRecordCommand({
      StreamName: stream,
      PartitionKey: "browser",
      Data: new TextEncoder().encode("hello from a page"),
    }),
  );
  const shards = (await client.send(new ListShardsCommand({ StreamName: stream }))).Shards;
  const iterator = (
    await client.send(
      new GetShardIteratorCommand({
        StreamName: stream,
        ShardId: shards[0].ShardId,
        ShardIteratorType: "TRIM_HORIZON",
      }),
    )
  ).ShardIterator;
  const got = await client.send(new GetRecordsCommand({ ShardIterator: iterator }));
  let notFound = null;
  try {
    await client.send(new DescribeStreamSummaryCommand({ StreamName: `${stream}-missing` }));
  } catch (error) {
    notFound = { name: error.name, requestId: error.$metadata?.requestId ?? null };
  }
  return {
    createdRequestId: created.$metadata.requestId ?? null,
    arn: summary.StreamARN,
    status: summary.StreamStatus,
    putShard: put.ShardId,
    putSequence: put.SequenceNumber,
    records: got.Records.map((r) => new TextDecoder().decode(r.Data)),
    sequences: got.Records.map((r) => r.SequenceNumber),
    notFound,
  };
}

// A cross-site POST to the admin surface, as a hostile page would try it: a "simple" request
// (no preflight), whose answer the page cannot read; and a JSON one, which needs a preflight.
async function postFaults(endpoint, plan) {
  const simple = await fetch(`${endpoint}/_shardflow/faults`, {
    method: "POST",
    mode: "no-cors",
    headers: { "content-type": "text/plain" },
    body: JSON.stringify(plan),
  }).then(
    (r) => r.type,
    (e) => `error: ${e}`,
  );
  const json = await fetch(`${endpoint}/_shardflow/faults`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(plan),
  }).then(
    (r) => `status ${r.status}`,
    (e) => `error: ${e.name}`,
  );
  return { simple, json };
}

window.shardflowBrowserTest = { roundTrip, postFaults };
