//! Drives Shardflow with the AWS SDK for Rust (`aws-sdk-kinesis`), as a user's program would.
//!
//! Usage: `shardflow-rust-sdk-check STREAM` with SHARDFLOW_ENDPOINT (http:// or https://) and,
//! for https, SHARDFLOW_CA_FILE (the server's `DATA_DIR/tls/ca.pem`). It creates STREAM with two
//! shards, subscribes to every shard at LATEST, writes with PutRecord and PutRecords, reads every
//! shard back from the subscriptions and with GetShardIterator + GetRecords, then with
//! SubscribeToShard again from TRIM_HORIZON (a second consumer), provokes two refusals, and prints
//! one JSON summary on stdout for tests/sdk/test_rust_sdk.py.

use std::collections::BTreeMap;
use std::error::Error;
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_kinesis::config::{Credentials, Region};
use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::operation::get_shard_iterator::builders::GetShardIteratorFluentBuilder;
use aws_sdk_kinesis::operation::get_shard_iterator::GetShardIteratorError;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{
    ConsumerStatus, PutRecordsRequestEntry, ShardIteratorType, StartingPosition, StreamStatus,
    SubscribeToShardEventStream,
};
use aws_sdk_kinesis::Client;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use serde_json::{json, Value};

type Res<T> = Result<T, Box<dyn Error>>;
/// An open SubscribeToShard call: its `event_stream` yields the events.
type Subscription = aws_sdk_kinesis::operation::subscribe_to_shard::SubscribeToShardOutput;

const RECORDS: usize = 20;
const DEADLINE: Duration = Duration::from_secs(60);

/// A client for the endpoint; over https it trusts only the CA file given.
async fn client(endpoint: &str) -> Res<Client> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDSHARDFLOW",
            "secret",
            None,
            None,
            "test",
        ))
        .endpoint_url(endpoint);
    if let Ok(ca_file) = std::env::var("SHARDFLOW_CA_FILE") {
        let pem = std::fs::read(&ca_file)?;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(
                TlsContext::builder()
                    .with_trust_store(TrustStore::empty().with_pem_certificate(pem))
                    .build()?,
            )
            .build_https();
        loader = loader.http_client(http);
    }
    Ok(Client::new(&loader.load().await))
}

fn text(blob: &Blob) -> String {
    String::from_utf8_lossy(blob.as_ref()).into_owned()
}

async fn wait_stream_active(kinesis: &Client, stream: &str) -> Res<()> {
    let start = Instant::now();
    loop {
        let summary = kinesis
            .describe_stream_summary()
            .stream_name(stream)
            .send()
            .await?;
        let status = summary
            .stream_description_summary()
            .map(|s| s.stream_status().clone());
        if status == Some(StreamStatus::Active) {
            return Ok(());
        }
        if start.elapsed() > DEADLINE {
            return Err(format!("stream {stream} not ACTIVE: {status:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_consumer_active(kinesis: &Client, arn: &str) -> Res<()> {
    let start = Instant::now();
    loop {
        let described = kinesis
            .describe_stream_consumer()
            .consumer_arn(arn)
            .send()
            .await?;
        let status = described
            .consumer_description()
            .map(|c| c.consumer_status().clone());
        if status == Some(ConsumerStatus::Active) {
            return Ok(());
        }
        if start.elapsed() > DEADLINE {
            return Err(format!("consumer {arn} not ACTIVE: {status:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// PutRecord once, then PutRecords for the rest; returns (data, key, shard, sequence) per record.
async fn write(kinesis: &Client, stream: &str) -> Res<Vec<Value>> {
    let mut written = Vec::new();
    let put = kinesis
        .put_record()
        .stream_name(stream)
        .partition_key("key-0")
        .data(Blob::new("rust-0"))
        .send()
        .await?;
    written.push(
        json!({"data": "rust-0", "key": "key-0", "shard": put.shard_id(),
                        "seq": put.sequence_number()}),
    );
    let mut entries = Vec::new();
    for i in 1..RECORDS {
        entries.push(
            PutRecordsRequestEntry::builder()
                .partition_key(format!("key-{i}"))
                .data(Blob::new(format!("rust-{i}")))
                .build()?,
        );
    }
    let batch = kinesis
        .put_records()
        .stream_name(stream)
        .set_records(Some(entries))
        .send()
        .await?;
    if batch.failed_record_count().unwrap_or(0) != 0 {
        return Err(format!("PutRecords failed entries: {batch:?}").into());
    }
    for (i, entry) in batch.records().iter().enumerate() {
        let n = i + 1;
        written.push(
            json!({"data": format!("rust-{n}"), "key": format!("key-{n}"),
                            "shard": entry.shard_id(), "seq": entry.sequence_number()}),
        );
    }
    Ok(written)
}

/// Every record of one shard from TRIM_HORIZON, by GetRecords until an empty page.
async fn read_shard(kinesis: &Client, stream: &str, shard: &str) -> Res<Vec<String>> {
    let mut iterator = kinesis
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await?
        .shard_iterator
        .ok_or("no shard iterator")?;
    let mut data = Vec::new();
    loop {
        let page = kinesis
            .get_records()
            .shard_iterator(&iterator)
            .send()
            .await?;
        if page.records().is_empty() {
            return Ok(data);
        }
        data.extend(page.records().iter().map(|r| text(r.data())));
        iterator = page.next_shard_iterator.ok_or("no next iterator")?;
    }
}

/// Opens a SubscribeToShard stream on one shard at `position`.
async fn subscribe(
    kinesis: &Client,
    arn: &str,
    shard: &str,
    position: ShardIteratorType,
) -> Res<Subscription> {
    let position = StartingPosition::builder().r#type(position).build()?;
    let out = kinesis
        .subscribe_to_shard()
        .consumer_arn(arn)
        .shard_id(shard)
        .starting_position(position)
        .send()
        .await?;
    Ok(out)
}

/// A subscription's records until `expected` have arrived.
async fn collect(mut events: Subscription, expected: usize) -> Res<Vec<String>> {
    let mut data = Vec::new();
    let start = Instant::now();
    while data.len() < expected {
        let left = DEADLINE
            .checked_sub(start.elapsed())
            .ok_or("SubscribeToShard: time-out")?;
        match tokio::time::timeout(left, events.event_stream.recv()).await?? {
            Some(SubscribeToShardEventStream::SubscribeToShardEvent(event)) => {
                data.extend(event.records().iter().map(|r| text(r.data())));
            }
            Some(other) => return Err(format!("unexpected event {other:?}").into()),
            None => {
                return Err(
                    format!("stream ended after {} of {expected} records", data.len()).into(),
                )
            }
        }
    }
    Ok(data)
}

async fn register(kinesis: &Client, stream_arn: &str, name: &str) -> Res<String> {
    let consumer = kinesis
        .register_stream_consumer()
        .stream_arn(stream_arn)
        .consumer_name(name)
        .send()
        .await?;
    let arn = consumer
        .consumer()
        .ok_or("no consumer")?
        .consumer_arn()
        .to_string();
    wait_consumer_active(kinesis, &arn).await?;
    Ok(arn)
}

fn count_in(written: &[Value], shard: &str) -> usize {
    written.iter().filter(|w| w["shard"] == shard).count()
}

const MISSING_SHARD: &str = "shardId-000000000009";
const BAD_SEQUENCE: &str = "1";

/// A refusal as the SDK surfaces it: the modeled error variant, AWS's code and message, status.
async fn refusal(call: GetShardIteratorFluentBuilder) -> Res<Value> {
    let err = match call.send().await {
        Ok(_) => return Err("the call was not refused".into()),
        Err(err) => err,
    };
    let status = err.raw_response().map(|r| r.status().as_u16());
    let service = err.into_service_error();
    let kind = match &service {
        GetShardIteratorError::ResourceNotFoundException(_) => "ResourceNotFoundException",
        GetShardIteratorError::InvalidArgumentException(_) => "InvalidArgumentException",
        _ => "other",
    };
    Ok(
        json!({"type": kind, "code": service.code(), "message": service.message(), "status": status}),
    )
}

async fn refusals(kinesis: &Client, stream: &str) -> Res<Value> {
    let missing_shard = kinesis
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(MISSING_SHARD)
        .shard_iterator_type(ShardIteratorType::TrimHorizon);
    let bad_sequence = kinesis
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .starting_sequence_number(BAD_SEQUENCE);
    Ok(json!({"missing_shard": refusal(missing_shard).await?,
              "bad_sequence": refusal(bad_sequence).await?}))
}

/// One consumer subscribes to every shard at LATEST before anything is written (the records
/// are pushed to it); after GetRecords, a second one reads every shard from TRIM_HORIZON.
async fn run(stream: &str) -> Res<Value> {
    let endpoint = std::env::var("SHARDFLOW_ENDPOINT")?;
    let kinesis = client(&endpoint).await?;
    kinesis
        .create_stream()
        .stream_name(stream)
        .shard_count(2)
        .send()
        .await?;
    wait_stream_active(&kinesis, stream).await?;
    let listed = kinesis.list_shards().stream_name(stream).send().await?;
    let shards: Vec<String> = listed
        .shards()
        .iter()
        .map(|s| s.shard_id().to_string())
        .collect();
    let summary = kinesis
        .describe_stream_summary()
        .stream_name(stream)
        .send()
        .await?;
    let stream_arn = summary
        .stream_description_summary()
        .ok_or("no summary")?
        .stream_arn();
    let live_arn = register(&kinesis, stream_arn, "rust-efo-live").await?;
    let arn = register(&kinesis, stream_arn, "rust-efo").await?;
    let mut live = Vec::new();
    for shard in &shards {
        live.push(subscribe(&kinesis, &live_arn, shard, ShardIteratorType::Latest).await?);
    }
    let written = write(&kinesis, stream).await?;
    let (mut pushed, mut got, mut subscribed) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    for (shard, events) in shards.iter().zip(live) {
        pushed.insert(
            shard.clone(),
            collect(events, count_in(&written, shard)).await?,
        );
        got.insert(shard.clone(), read_shard(&kinesis, stream, shard).await?);
    }
    let errors = refusals(&kinesis, stream).await?;
    for shard in &shards {
        let replay = subscribe(&kinesis, &arn, shard, ShardIteratorType::TrimHorizon).await?;
        subscribed.insert(
            shard.clone(),
            collect(replay, count_in(&written, shard)).await?,
        );
    }
    Ok(
        json!({"stream": stream, "endpoint": endpoint, "shards": shards, "put": written,
              "get_records": got, "consumer_arn": arn, "subscribe": subscribed,
              "subscribe_live": pushed, "errors": errors}),
    )
}

#[tokio::main]
async fn main() {
    let stream = std::env::args()
        .nth(1)
        .expect("usage: shardflow-rust-sdk-check STREAM");
    match run(&stream).await {
        Ok(summary) => println!("{summary}"),
        Err(e) => {
            eprintln!("error: {e:?}");
            std::process::exit(1);
        }
    }
}
