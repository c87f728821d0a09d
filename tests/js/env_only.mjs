// docs/testing.md: a client configured by the environment alone (AWS_ENDPOINT_URL_KINESIS or
// AWS_ENDPOINT_URL, AWS_REGION, credentials), as code under test builds it in CI.
//
//   node env_only.mjs STREAM    prints {"shard", "streams", "region"} on one line
import { KinesisClient, ListStreamsCommand, PutRecordCommand } from "@aws-sdk/client-kinesis";

const client = new KinesisClient({});
const put = await client.send(
  new PutRecordCommand({
    StreamName: process.argv[2],
    PartitionKey: "k",
    Data: new TextEncoder().encode("from-js"),
  }),
);
const list = await client.send(new ListStreamsCommand({}));
console.log(
  JSON.stringify({ shard: put.ShardId, streams: list.StreamNames, region: await client.config.region() }),
);
client.destroy();
