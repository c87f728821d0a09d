// Command shardflow-go-sdk-check drives Shardflow with the AWS SDK for Go v2, as a user's program
// would.
//
// Usage: shardflow-go-sdk-check STREAM, with SHARDFLOW_ENDPOINT (http:// or https://) and, for
// https, SHARDFLOW_CA_FILE (the server's DATA_DIR/tls/ca.pem). It creates STREAM with two shards,
// subscribes to every shard at LATEST, writes with PutRecord and PutRecords, reads every shard
// back from the subscriptions and with GetShardIterator + GetRecords, then with SubscribeToShard
// again from TRIM_HORIZON (a second consumer), then prints one JSON summary on stdout for
// tests/sdk/test_go_sdk.py. It also reports the HTTP protocol each SubscribeToShard response came
// over, and how the SDK surfaced two refusals.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
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
	SubscribeLive   map[string][]string `json:"subscribe_live"`
	SubscribeProtos []string            `json:"subscribe_protocols"`
	Errors          map[string]refusal  `json:"errors"`
}

// refusal is an error as the SDK surfaces it: its Go type, AWS's error code and message.
type refusal struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Status  int    `json:"status"`
}

const (
	missingShard = "shardId-000000000009"
	badSequence  = "1"
)

// refusals makes two calls the server must refuse and reports how the SDK surfaced them.
func refusals(ctx context.Context, kc *kinesis.Client, stream string) (map[string]refusal, error) {
	out := map[string]refusal{}
	calls := map[string]*kinesis.GetShardIteratorInput{
		"missing_shard": {StreamName: &stream, ShardId: aws.String(missingShard),
			ShardIteratorType: types.ShardIteratorTypeTrimHorizon},
		"bad_sequence": {StreamName: &stream, ShardId: aws.String("shardId-000000000000"),
			ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber, StartingSequenceNumber: aws.String(badSequence)},
	}
	for name, in := range calls {
		_, err := kc.GetShardIterator(ctx, in)
		var apiErr smithy.APIError
		if err == nil || !errors.As(err, &apiErr) {
			return nil, fmt.Errorf("%s: not refused with an API error: %v", name, err)
		}
		r := refusal{Type: fmt.Sprintf("%T", apiErr), Code: apiErr.ErrorCode(), Message: apiErr.ErrorMessage()}
		var respErr *awshttp.ResponseError
		if errors.As(err, &respErr) {
			r.Status = respErr.HTTPStatusCode()
		}
		out[name] = r
	}
	return out, nil
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

// subscribe opens a SubscribeToShard stream at position; proto gets the response's HTTP protocol.
func subscribe(ctx context.Context, kc *kinesis.Client, arn, shard string, position types.ShardIteratorType,
	proto *string) (*kinesis.SubscribeToShardEventStream, error) {
	out, err := kc.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{
		ConsumerARN: &arn, ShardId: &shard, StartingPosition: &types.StartingPosition{Type: position},
	}, func(o *kinesis.Options) { o.APIOptions = append(o.APIOptions, protocolOf(proto)) })
	if err != nil {
		return nil, err
	}
	return out.GetStream(), nil
}

// collect reads a subscription's records until expected have come, then closes it.
func collect(stream *kinesis.SubscribeToShardEventStream, shard string, expected int) ([]string, error) {
	defer stream.Close()
	data := []string{}
	timeout := time.After(deadline)
	for len(data) < expected {
		select {
		case event, ok := <-stream.Events():
			if !ok {
				return data, fmt.Errorf("SubscribeToShard %s ended after %d of %d records: %v", shard, len(data), expected, stream.Err())
			}
			switch e := event.(type) {
			case *types.SubscribeToShardEventStreamMemberSubscribeToShardEvent:
				for _, r := range e.Value.Records {
					data = append(data, string(r.Data))
				}
			default:
				return nil, fmt.Errorf("unexpected event %T", event)
			}
		case <-timeout:
			return data, fmt.Errorf("SubscribeToShard %s: %d of %d records in %s", shard, len(data), expected, deadline)
		}
	}
	return data, nil
}

func register(ctx context.Context, kc *kinesis.Client, streamARN *string, name string) (string, error) {
	reg, err := kc.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{
		StreamARN: streamARN, ConsumerName: aws.String(name),
	})
	if err != nil {
		return "", err
	}
	return *reg.Consumer.ConsumerARN, waitConsumerActive(ctx, kc, *reg.Consumer.ConsumerARN)
}

func countIn(put []written, shard string) int {
	n := 0
	for _, w := range put {
		if w.Shard == shard {
			n++
		}
	}
	return n
}

// run: one consumer subscribes to every shard at LATEST before anything is written (the
// records are pushed to it); after GetRecords, a second one reads every shard from TRIM_HORIZON.
func run(ctx context.Context, stream string) (*summary, error) {
	endpoint := os.Getenv("SHARDFLOW_ENDPOINT")
	kc, err := newClient(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	s := &summary{Stream: stream, Endpoint: endpoint, GetRecords: map[string][]string{},
		Subscribe: map[string][]string{}, SubscribeLive: map[string][]string{}}
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: aws.Int32(2)}); err != nil {
		return nil, err
	}
	if err := waitActive(ctx, kc, stream); err != nil {
		return nil, err
	}
	shards, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: &stream})
	if err != nil {
		return nil, err
	}
	for _, sh := range shards.Shards {
		s.Shards = append(s.Shards, *sh.ShardId)
	}
	desc, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &stream})
	if err != nil {
		return nil, err
	}
	liveARN, err := register(ctx, kc, desc.StreamDescriptionSummary.StreamARN, "go-efo-live")
	if err != nil {
		return nil, err
	}
	if s.ConsumerARN, err = register(ctx, kc, desc.StreamDescriptionSummary.StreamARN, "go-efo"); err != nil {
		return nil, err
	}
	live := map[string]*kinesis.SubscribeToShardEventStream{}
	for _, shard := range s.Shards {
		var proto string
		if live[shard], err = subscribe(ctx, kc, liveARN, shard, types.ShardIteratorTypeLatest, &proto); err != nil {
			return nil, err
		}
		s.SubscribeProtos = append(s.SubscribeProtos, proto)
	}
	if s.Put, err = write(ctx, kc, stream); err != nil {
		return nil, err
	}
	for _, shard := range s.Shards {
		if s.SubscribeLive[shard], err = collect(live[shard], shard, countIn(s.Put, shard)); err != nil {
			return nil, err
		}
		if s.GetRecords[shard], err = readShard(ctx, kc, stream, shard); err != nil {
			return nil, err
		}
	}
	if s.Errors, err = refusals(ctx, kc, stream); err != nil {
		return nil, err
	}
	for _, shard := range s.Shards {
		var proto string
		replay, err := subscribe(ctx, kc, s.ConsumerARN, shard, types.ShardIteratorTypeTrimHorizon, &proto)
		if err != nil {
			return nil, err
		}
		s.SubscribeProtos = append(s.SubscribeProtos, proto)
		if s.Subscribe[shard], err = collect(replay, shard, countIn(s.Put, shard)); err != nil {
			return nil, err
		}
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
