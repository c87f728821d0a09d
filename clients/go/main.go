// Command shardflow-go-sdk-check drives Shardflow with the AWS SDK for Go v2, as a user's program
// would.
//
// Usage: shardflow-go-sdk-check STREAM, with SHARDFLOW_ENDPOINT (http:// or https://) and, for
// https, SHARDFLOW_CA_FILE (the server's DATA_DIR/tls/ca.pem). It creates STREAM with two shards,
// writes with PutRecord and PutRecords, reads every shard back with ListShards, GetShardIterator
// and GetRecords, registers a consumer and reads every shard again with SubscribeToShard, then
// prints one JSON summary on stdout for tests/sdk/test_go_sdk.py. It also reports the HTTP
// protocol each SubscribeToShard response came over.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

const (
	records  = 20
	deadline = 60 * time.Second
)

type written struct {
	Data  string `json:"data"`
	Key   string `json:"key"`
	Shard string `json:"shard"`
	Seq   string `json:"seq"`
}

type summary struct {
	Stream          string              `json:"stream"`
	Endpoint        string              `json:"endpoint"`
	Shards          []string            `json:"shards"`
	Put             []written           `json:"put"`
	GetRecords      map[string][]string `json:"get_records"`
	ConsumerARN     string              `json:"consumer_arn"`
	Subscribe       map[string][]string `json:"subscribe"`
	SubscribeProtos []string            `json:"subscribe_protocols"`
}

// newClient trusts only SHARDFLOW_CA_FILE when it is set (an https endpoint).
func newClient(ctx context.Context, endpoint string) (*kinesis.Client, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDSHARDFLOW", "secret", "")),
	}
	if caFile := os.Getenv("SHARDFLOW_CA_FILE"); caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, config.WithCustomCABundle(bytes.NewReader(pem)))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, err
	}
	return kinesis.NewFromConfig(cfg, func(o *kinesis.Options) { o.BaseEndpoint = aws.String(endpoint) }), nil
}

func waitActive(ctx context.Context, kc *kinesis.Client, stream string) error {
	start := time.Now()
	for {
		out, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &stream})
		if err != nil {
			return err
		}
		if out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return nil
		}
		if time.Since(start) > deadline {
			return fmt.Errorf("stream %s not ACTIVE", stream)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitConsumerActive(ctx context.Context, kc *kinesis.Client, arn string) error {
	start := time.Now()
	for {
		out, err := kc.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: &arn})
		if err != nil {
			return err
		}
		if out.ConsumerDescription.ConsumerStatus == types.ConsumerStatusActive {
			return nil
		}
		if time.Since(start) > deadline {
			return fmt.Errorf("consumer %s not ACTIVE", arn)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// write does one PutRecord, then one PutRecords for the rest.
func write(ctx context.Context, kc *kinesis.Client, stream string) ([]written, error) {
	put, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{
		StreamName: &stream, PartitionKey: aws.String("key-0"), Data: []byte("go-0"),
	})
	if err != nil {
		return nil, err
	}
	out := []written{{"go-0", "key-0", *put.ShardId, *put.SequenceNumber}}
	var entries []types.PutRecordsRequestEntry
	for i := 1; i < records; i++ {
		entries = append(entries, types.PutRecordsRequestEntry{
			PartitionKey: aws.String(fmt.Sprintf("key-%d", i)), Data: []byte(fmt.Sprintf("go-%d", i)),
		})
	}
	batch, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: &stream, Records: entries})
	if err != nil {
		return nil, err
	}
	if aws.ToInt32(batch.FailedRecordCount) != 0 {
		return nil, fmt.Errorf("PutRecords: %d failed entries", *batch.FailedRecordCount)
	}
	for i, r := range batch.Records {
		n := i + 1
		out = append(out, written{fmt.Sprintf("go-%d", n), fmt.Sprintf("key-%d", n), *r.ShardId, *r.SequenceNumber})
	}
	return out, nil
}

// readShard reads a shard from TRIM_HORIZON with GetRecords until an empty page.
func readShard(ctx context.Context, kc *kinesis.Client, stream, shard string) ([]string, error) {
	it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName: &stream, ShardId: &shard, ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
	})
	if err != nil {
		return nil, err
	}
	iterator := it.ShardIterator
	data := []string{}
	for {
		page, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iterator})
		if err != nil {
			return nil, err
		}
		if len(page.Records) == 0 {
			return data, nil
		}
		for _, r := range page.Records {
			data = append(data, string(r.Data))
		}
		iterator = page.NextShardIterator
	}
}

// protocolOf records the HTTP protocol of the raw response (HTTP/1.1 or HTTP/2.0).
func protocolOf(proto *string) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("RecordProto",
			func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (
				middleware.DeserializeOutput, middleware.Metadata, error,
			) {
				out, md, err := next.HandleDeserialize(ctx, in)
				if resp, ok := out.RawResponse.(*smithyhttp.Response); ok && resp.Response != nil {
					*proto = resp.Proto
				}
				return out, md, err
			}), middleware.After)
	}
}

// subscribeShard reads a shard with SubscribeToShard from TRIM_HORIZON until expected records came.
func subscribeShard(ctx context.Context, kc *kinesis.Client, arn, shard string, expected int) ([]string, string, error) {
	var proto string
	out, err := kc.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{
		ConsumerARN: &arn, ShardId: &shard,
		StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon},
	}, func(o *kinesis.Options) { o.APIOptions = append(o.APIOptions, protocolOf(&proto)) })
	if err != nil {
		return nil, proto, err
	}
	stream := out.GetStream()
	defer stream.Close()
	data := []string{}
	timeout := time.After(deadline)
	for len(data) < expected {
		select {
		case event, ok := <-stream.Events():
			if !ok {
				return data, proto, stream.Err()
			}
			switch e := event.(type) {
			case *types.SubscribeToShardEventStreamMemberSubscribeToShardEvent:
				for _, r := range e.Value.Records {
					data = append(data, string(r.Data))
				}
			default:
				return nil, proto, fmt.Errorf("unexpected event %T", event)
			}
		case <-timeout:
			return data, proto, fmt.Errorf("SubscribeToShard %s: %d of %d records in %s", shard, len(data), expected, deadline)
		}
	}
	return data, proto, nil
}

func run(ctx context.Context, stream string) (*summary, error) {
	endpoint := os.Getenv("SHARDFLOW_ENDPOINT")
	kc, err := newClient(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	s := &summary{Stream: stream, Endpoint: endpoint, GetRecords: map[string][]string{}, Subscribe: map[string][]string{}}
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: aws.Int32(2)}); err != nil {
		return nil, err
	}
	if err := waitActive(ctx, kc, stream); err != nil {
		return nil, err
	}
	if s.Put, err = write(ctx, kc, stream); err != nil {
		return nil, err
	}
	shards, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: &stream})
	if err != nil {
		return nil, err
	}
	for _, sh := range shards.Shards {
		s.Shards = append(s.Shards, *sh.ShardId)
		if s.GetRecords[*sh.ShardId], err = readShard(ctx, kc, stream, *sh.ShardId); err != nil {
			return nil, err
		}
	}
	desc, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &stream})
	if err != nil {
		return nil, err
	}
	reg, err := kc.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{
		StreamARN: desc.StreamDescriptionSummary.StreamARN, ConsumerName: aws.String("go-efo"),
	})
	if err != nil {
		return nil, err
	}
	s.ConsumerARN = *reg.Consumer.ConsumerARN
	if err := waitConsumerActive(ctx, kc, s.ConsumerARN); err != nil {
		return nil, err
	}
	for _, shard := range s.Shards {
		expected := 0
		for _, w := range s.Put {
			if w.Shard == shard {
				expected++
			}
		}
		data, proto, err := subscribeShard(ctx, kc, s.ConsumerARN, shard, expected)
		if err != nil {
			return nil, err
		}
		s.Subscribe[shard] = data
		s.SubscribeProtos = append(s.SubscribeProtos, proto)
	}
	return s, nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: shardflow-go-sdk-check STREAM")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*deadline)
	defer cancel()
	s, err := run(ctx, os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(s); err != nil {
		os.Exit(1)
	}
}
