package awscheck

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Tagged counts every resource tagged for the cluster in either way the
// family of tools tags (kubernetes.io/cluster/NAME with any value, or
// KubernetesCluster=NAME), whoever made it, in every service such tools
// use: what a delete that leaves nothing behind must bring to zero. It
// describes each resource rather than trusting DescribeTags, which on
// moto lists the tags of deleted resources too.
func Tagged(ctx context.Context, cfg aws.Config, cluster string) (Counts, error) {
	n := Counts{}
	e := ec2.NewFromConfig(cfg)
	byTag := [][]ec2types.Filter{
		{{Name: aws.String("tag-key"), Values: []string{"kubernetes.io/cluster/" + cluster}}},
		{{Name: aws.String("tag:KubernetesCluster"), Values: []string{cluster}}},
	}
	isTagged := func(tags []ec2types.Tag) bool {
		for _, t := range tags {
			k, v := aws.ToString(t.Key), aws.ToString(t.Value)
			if k == "kubernetes.io/cluster/"+cluster || (k == "KubernetesCluster" && v == cluster) {
				return true
			}
		}
		return false
	}
	type lister func(f []ec2types.Filter) (map[string]bool, error)
	ec2Kinds := map[string]lister{
		"ec2:vpc": func(f []ec2types.Filter) (map[string]bool, error) {
			o, err := e.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: f})
			return ids(err, func() []string { return collect(o.Vpcs, func(v ec2types.Vpc) string { return aws.ToString(v.VpcId) }) })
		},
		"ec2:subnet": func(f []ec2types.Filter) (map[string]bool, error) {
			o, err := e.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: f})
			return ids(err, func() []string {
				return collect(o.Subnets, func(v ec2types.Subnet) string { return aws.ToString(v.SubnetId) })
			})
		},
		"ec2:internet-gateway": func(f []ec2types.Filter) (map[string]bool, error) {
			o, err := e.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{Filters: f})
			return ids(err, func() []string {
				return collect(o.InternetGateways, func(v ec2types.InternetGateway) string { return aws.ToString(v.InternetGatewayId) })
			})
		},
		"ec2:route-table": func(f []ec2types.Filter) (map[string]bool, error) {
			o, err := e.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: f})
			return ids(err, func() []string {
				return collect(o.RouteTables, func(v ec2types.RouteTable) string { return aws.ToString(v.RouteTableId) })
			})
		},
		"ec2:dhcp-options": func(f []ec2types.Filter) (map[string]bool, error) {
			o, err := e.DescribeDhcpOptions(ctx, &ec2.DescribeDhcpOptionsInput{Filters: f})
			return ids(err, func() []string {
				return collect(o.DhcpOptions, func(v ec2types.DhcpOptions) string { return aws.ToString(v.DhcpOptionsId) })
			})
		},
		"ec2:vpc-endpoint": func(f []ec2types.Filter) (map[string]bool, error) {
			o, err := e.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{Filters: f})
			return ids(err, func() []string {
				return collect(o.VpcEndpoints, func(v ec2types.VpcEndpoint) string {
					if s := string(v.State); s == "deleted" || s == "Deleted" {
						return ""
					}
					return aws.ToString(v.VpcEndpointId)
				})
			})
		},
		"ec2:nat-gateway": func(f []ec2types.Filter) (map[string]bool, error) {
			// moto ignores DescribeNatGateways' tag filters: filter here.
			o, err := e.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{})
			return ids(err, func() []string {
				return collect(o.NatGateways, func(v ec2types.NatGateway) string {
					if v.State == ec2types.NatGatewayStateDeleted || !isTagged(v.Tags) {
						return ""
					}
					return aws.ToString(v.NatGatewayId)
				})
			})
		},
		"ec2:elastic-ip": func(f []ec2types.Filter) (map[string]bool, error) {
			o, err := e.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{Filters: f})
			return ids(err, func() []string {
				return collect(o.Addresses, func(v ec2types.Address) string { return aws.ToString(v.AllocationId) })
			})
		},
		"ec2:security-group": func(f []ec2types.Filter) (map[string]bool, error) {
			o, err := e.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: f})
			return ids(err, func() []string {
				return collect(o.SecurityGroups, func(v ec2types.SecurityGroup) string { return aws.ToString(v.GroupId) })
			})
		},
		"ec2:volume": func(f []ec2types.Filter) (map[string]bool, error) {
			o, err := e.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: f})
			return ids(err, func() []string {
				return collect(o.Volumes, func(v ec2types.Volume) string { return aws.ToString(v.VolumeId) })
			})
		},
		"ec2:key-pair": func(f []ec2types.Filter) (map[string]bool, error) {
			o, err := e.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{Filters: f})
			return ids(err, func() []string {
				return collect(o.KeyPairs, func(v ec2types.KeyPairInfo) string { return aws.ToString(v.KeyPairId) })
			})
		},
		"ec2:launch-template": func(f []ec2types.Filter) (map[string]bool, error) {
			o, err := e.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{Filters: f})
			return ids(err, func() []string {
				return collect(o.LaunchTemplates, func(v ec2types.LaunchTemplate) string { return aws.ToString(v.LaunchTemplateId) })
			})
		},
		"ec2:instance": func(f []ec2types.Filter) (map[string]bool, error) {
			o, err := e.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: append(f, ec2types.Filter{
				Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped", "shutting-down"}})})
			return ids(err, func() []string {
				var out []string
				for _, r := range o.Reservations {
					out = append(out, collect(r.Instances, func(v ec2types.Instance) string { return aws.ToString(v.InstanceId) })...)
				}
				return out
			})
		},
		"ec2:network-interface": func(f []ec2types.Filter) (map[string]bool, error) {
			o, err := e.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{Filters: f})
			return ids(err, func() []string {
				return collect(o.NetworkInterfaces, func(v ec2types.NetworkInterface) string { return aws.ToString(v.NetworkInterfaceId) })
			})
		},
	}
	for kind, list := range ec2Kinds {
		all := map[string]bool{}
		for _, f := range byTag {
			got, err := list(f)
			if err != nil {
				return nil, fmt.Errorf("counting %s: %w", kind, err)
			}
			for id := range got {
				all[id] = true
			}
		}
		if len(all) > 0 {
			n[kind] = len(all)
		}
	}

	groups := map[string]bool{}
	a := autoscaling.NewFromConfig(cfg)
	for _, f := range [][]asgtypes.Filter{
		{{Name: aws.String("tag-key"), Values: []string{"kubernetes.io/cluster/" + cluster}}},
		{{Name: aws.String("tag:KubernetesCluster"), Values: []string{cluster}}},
	} {
		o, err := a.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{Filters: f})
		if err != nil {
			return nil, fmt.Errorf("counting Auto Scaling groups: %w", err)
		}
		for _, g := range o.AutoScalingGroups {
			groups[aws.ToString(g.AutoScalingGroupName)] = true
		}
	}
	if len(groups) > 0 {
		n["autoscaling:group"] = len(groups)
	}
	owned := func(k, v string) bool {
		return k == "kubernetes.io/cluster/"+cluster || (k == "KubernetesCluster" && v == cluster)
	}
	lbs, tgs, err := countELBv2(ctx, cfg, cluster)
	if err != nil {
		return nil, fmt.Errorf("counting load balancers: %w", err)
	}
	if lbs > 0 {
		n["elbv2:load-balancer"] = lbs
	}
	if tgs > 0 {
		n["elbv2:target-group"] = tgs
	}
	if k, err := countELB(ctx, cfg, cluster); err != nil {
		return nil, fmt.Errorf("counting classic load balancers: %w", err)
	} else if k > 0 {
		n["elb:load-balancer"] = k
	}

	ic := iam.NewFromConfig(cfg)
	roles, err := ic.ListRoles(ctx, &iam.ListRolesInput{})
	if err != nil {
		return nil, fmt.Errorf("counting IAM roles: %w", err)
	}
	for _, r := range roles.Roles {
		t, err := ic.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: r.RoleName})
		if err != nil {
			return nil, fmt.Errorf("reading the tags of IAM role %s: %w", aws.ToString(r.RoleName), err)
		}
		for _, tag := range t.Tags {
			if owned(aws.ToString(tag.Key), aws.ToString(tag.Value)) {
				n["iam:role"]++
				break
			}
		}
	}

	qc := sqs.NewFromConfig(cfg)
	queues, err := qc.ListQueues(ctx, &sqs.ListQueuesInput{})
	if err != nil {
		return nil, fmt.Errorf("counting SQS queues: %w", err)
	}
	for _, u := range queues.QueueUrls {
		t, err := qc.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: aws.String(u)})
		if err != nil {
			return nil, fmt.Errorf("reading the tags of queue %s: %w", u, err)
		}
		for k, v := range t.Tags {
			if owned(k, v) {
				n["sqs:queue"]++
				break
			}
		}
	}

	ec := eventbridge.NewFromConfig(cfg)
	rules, err := ec.ListRules(ctx, &eventbridge.ListRulesInput{})
	if err != nil {
		return nil, fmt.Errorf("counting event rules: %w", err)
	}
	for _, r := range rules.Rules {
		t, err := ec.ListTagsForResource(ctx, &eventbridge.ListTagsForResourceInput{ResourceARN: r.Arn})
		if err != nil {
			return nil, fmt.Errorf("reading the tags of event rule %s: %w", aws.ToString(r.Name), err)
		}
		for _, tag := range t.Tags {
			if owned(aws.ToString(tag.Key), aws.ToString(tag.Value)) {
				n["events:rule"]++
				break
			}
		}
	}
	return n, nil
}

func ids(err error, list func() []string) (map[string]bool, error) {
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, id := range list() {
		if id != "" {
			out[id] = true
		}
	}
	return out, nil
}

func collect[T any](items []T, id func(T) string) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, id(it))
	}
	return out
}
