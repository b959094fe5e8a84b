package aws

import (
	"context"
	"fmt"
	"path"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kapstan/kapstan/internal/engine"
)

// KindSQSQueue is an SQS queue. kapstan makes none; kops' node termination
// handler in queue mode has one per cluster, tagged for it.
const KindSQSQueue = "SQSQueue"

// SQSAPI is the SQS calls kapstan makes: only discovery and delete.
type SQSAPI interface {
	ListQueues(ctx context.Context, params *sqs.ListQueuesInput, optFns ...func(*sqs.Options)) (*sqs.ListQueuesOutput, error)
	ListQueueTags(ctx context.Context, params *sqs.ListQueueTagsInput, optFns ...func(*sqs.Options)) (*sqs.ListQueueTagsOutput, error)
	DeleteQueue(ctx context.Context, params *sqs.DeleteQueueInput, optFns ...func(*sqs.Options)) (*sqs.DeleteQueueOutput, error)
}

// SQSQueue is a queue tagged for the cluster.
type SQSQueue struct {
	deleteOnly
	URL  string
	Tags Tags
}

func (r *SQSQueue) Address() engine.Address {
	return engine.Address{Kind: KindSQSQueue, Name: path.Base(r.URL)}
}
func (r *SQSQueue) Dependencies() []engine.Address { return nil }
func (r *SQSQueue) CloudID() string                { return r.URL }

func (r *SQSQueue) delete(ctx context.Context, c *Cloud) error {
	_, err := c.SQS.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(r.URL)})
	if hasCode(err, "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist") {
		return nil
	}
	return deleteResult(err, "SQS queue "+r.URL)
}

// taggedQueues lists the queues tagged for the cluster. SQS cannot filter
// by tag, so every queue's tags are read: one call per queue, in an
// account's region. Clusters' queues are few; accounts with thousands of
// queues pay for it at delete time only.
func (c *Cloud) taggedQueues(ctx context.Context) ([]tagged, error) {
	if c.SQS == nil {
		return nil, nil
	}
	var out []tagged
	for p := sqs.NewListQueuesPaginator(c.SQS, &sqs.ListQueuesInput{}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing SQS queues: %w", err)
		}
		for _, u := range page.QueueUrls {
			t, err := c.SQS.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: aws.String(u)})
			if err != nil {
				if hasCode(err, "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist") {
					continue
				}
				return nil, fmt.Errorf("reading the tags of SQS queue %s: %w", u, err)
			}
			tags := Tags(t.Tags)
			if c.taggedForCluster(tags) {
				out = append(out, tagged{res: &SQSQueue{URL: u, Tags: tags}, tags: tags})
			}
		}
	}
	return out, nil
}
