package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/kapstan/kapstan/internal/engine"
)

// KindEventRule is an EventBridge rule. kapstan makes none; kops' node
// termination handler has rules per cluster (spot interruptions, Auto
// Scaling lifecycle events) that send to its queue, tagged for the
// cluster.
const KindEventRule = "EventRule"

// EventsAPI is the EventBridge calls kapstan makes: only discovery and
// delete.
type EventsAPI interface {
	ListRules(ctx context.Context, params *eventbridge.ListRulesInput, optFns ...func(*eventbridge.Options)) (*eventbridge.ListRulesOutput, error)
	ListTagsForResource(ctx context.Context, params *eventbridge.ListTagsForResourceInput, optFns ...func(*eventbridge.Options)) (*eventbridge.ListTagsForResourceOutput, error)
	ListTargetsByRule(ctx context.Context, params *eventbridge.ListTargetsByRuleInput, optFns ...func(*eventbridge.Options)) (*eventbridge.ListTargetsByRuleOutput, error)
	RemoveTargets(ctx context.Context, params *eventbridge.RemoveTargetsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.RemoveTargetsOutput, error)
	DeleteRule(ctx context.Context, params *eventbridge.DeleteRuleInput, optFns ...func(*eventbridge.Options)) (*eventbridge.DeleteRuleOutput, error)
}

// EventRule is a rule on the default event bus tagged for the cluster.
type EventRule struct {
	deleteOnly
	RuleName string
	ARN      string
	Tags     Tags
}

func (r *EventRule) Address() engine.Address {
	return engine.Address{Kind: KindEventRule, Name: r.RuleName}
}
func (r *EventRule) Dependencies() []engine.Address { return nil }
func (r *EventRule) CloudID() string                { return r.ARN }

// delete removes the rule's targets, which AWS requires first, then the
// rule.
func (r *EventRule) delete(ctx context.Context, c *Cloud) error {
	var ids []string
	in := &eventbridge.ListTargetsByRuleInput{Rule: aws.String(r.RuleName)}
	for {
		page, err := c.Events.ListTargetsByRule(ctx, in)
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("listing the targets of event rule %s: %w", r.RuleName, err)
		}
		for _, t := range page.Targets {
			ids = append(ids, aws.ToString(t.Id))
		}
		if in.NextToken = page.NextToken; in.NextToken == nil {
			break
		}
	}
	if len(ids) > 0 {
		out, err := c.Events.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String(r.RuleName), Ids: ids, Force: true})
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("removing the targets of event rule %s: %w", r.RuleName, err)
		}
		if err == nil && out.FailedEntryCount > 0 {
			return engine.Retryable(fmt.Errorf("removing the targets of event rule %s: %d failed", r.RuleName, out.FailedEntryCount))
		}
	}
	_, err := c.Events.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String(r.RuleName), Force: true})
	return deleteResult(err, "event rule "+r.RuleName)
}

// taggedEventRules lists the rules of the default event bus tagged for the
// cluster: one ListRules and one ListTagsForResource per rule, since
// EventBridge cannot filter by tag.
func (c *Cloud) taggedEventRules(ctx context.Context) ([]tagged, error) {
	if c.Events == nil {
		return nil, nil
	}
	var out []tagged
	in := &eventbridge.ListRulesInput{}
	for {
		page, err := c.Events.ListRules(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("listing event rules: %w", err)
		}
		for _, rule := range page.Rules {
			t, err := c.Events.ListTagsForResource(ctx, &eventbridge.ListTagsForResourceInput{ResourceARN: rule.Arn})
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("reading the tags of event rule %s: %w", aws.ToString(rule.Name), err)
			}
			tags := Tags{}
			for _, tag := range t.Tags {
				tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
			}
			if c.taggedForCluster(tags) {
				out = append(out, tagged{res: &EventRule{RuleName: aws.ToString(rule.Name), ARN: aws.ToString(rule.Arn), Tags: tags}, tags: tags})
			}
		}
		if in.NextToken = page.NextToken; in.NextToken == nil {
			break
		}
	}
	return out, nil
}
