package aws

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// recordedASG answers DescribeAutoScalingGroups with a response shaped as
// AWS sends it; any other call panics (nil embedded interface).
type recordedASG struct {
	AutoScalingAPI
	out *autoscaling.DescribeAutoScalingGroupsOutput
}

func (r recordedASG) DescribeAutoScalingGroups(context.Context, *autoscaling.DescribeAutoScalingGroupsInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	return r.out, nil
}

// recordedEC2 answers DescribeInstances: the members when asked by ID, no
// detached instance when asked by tag.
type recordedEC2 struct {
	EC2API
	members *ec2.DescribeInstancesOutput
}

func (r recordedEC2) DescribeInstances(_ context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	if len(in.InstanceIds) > 0 {
		return r.members, nil
	}
	return &ec2.DescribeInstancesOutput{}, nil
}

// TestInstanceVersionFromEC2Tag: on AWS, after a group moved to launch
// template version 4, DescribeAutoScalingGroups lists an old member with
// Instances[].LaunchTemplate.Version "3" and EC2 tags it
// aws:ec2launchtemplate:version=3. moto reports "4" in the former for
// every member, so kapstan reads the tag, which both agree on; this test
// holds the reader to AWS's response.
func TestInstanceVersionFromEC2Tag(t *testing.T) {
	lt := &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String("lt-0a1"), LaunchTemplateName: aws.String("nodes.c.k8s.local"), Version: aws.String("4")}
	asg := &autoscaling.DescribeAutoScalingGroupsOutput{AutoScalingGroups: []astypes.AutoScalingGroup{{
		AutoScalingGroupName: aws.String("nodes.c.k8s.local"), MinSize: aws.Int32(2), MaxSize: aws.Int32(4), DesiredCapacity: aws.Int32(2),
		LaunchTemplate: lt,
		Instances: []astypes.Instance{
			{InstanceId: aws.String("i-0old"), AvailabilityZone: aws.String("us-east-1a"), LifecycleState: astypes.LifecycleStateInService,
				LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplateId, Version: aws.String("3")}},
			{InstanceId: aws.String("i-0new"), AvailabilityZone: aws.String("us-east-1b"), LifecycleState: astypes.LifecycleStateInService,
				LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplateId, Version: aws.String("4")}},
		},
		Tags: []astypes.TagDescription{
			{Key: aws.String(TagKubernetesCluster), Value: aws.String("c.k8s.local")},
			{Key: aws.String(TagInstanceGroup), Value: aws.String("nodes")},
		},
	}}}
	instance := func(id, zone, version string) ec2types.Instance {
		return ec2types.Instance{InstanceId: aws.String(id), PrivateDnsName: aws.String("ip-10-0-0-1.ec2.internal"),
			Placement: &ec2types.Placement{AvailabilityZone: aws.String(zone)}, State: &ec2types.InstanceState{Name: ec2types.InstanceStateNameRunning},
			Tags: []ec2types.Tag{
				{Key: aws.String(tagTemplateID), Value: aws.String("lt-0a1")},
				{Key: aws.String(tagTemplateVersion), Value: aws.String(version)},
				{Key: aws.String(TagKubernetesCluster), Value: aws.String("c.k8s.local")},
			}}
	}
	members := &ec2.DescribeInstancesOutput{Reservations: []ec2types.Reservation{{Instances: []ec2types.Instance{
		instance("i-0old", "us-east-1a", "3"), instance("i-0new", "us-east-1b", "4")}}}}

	c := New(Clients{AutoScaling: recordedASG{out: asg}, EC2: recordedEC2{members: members}}, "c.k8s.local", "us-east-1")
	groups, err := NewGroupReader(c).InstanceGroups(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 1 || groups[0].InstanceGroup != "nodes" || groups[0].LaunchTemplateVersion != "4" || len(groups[0].Instances) != 2 {
		t.Fatalf("groups: %+v", groups)
	}
	got := map[string]string{}
	for _, in := range groups[0].Instances {
		got[in.ID] = in.LaunchTemplateVersion
	}
	if got["i-0old"] != "3" || got["i-0new"] != "4" {
		t.Fatalf("instance versions %v, want i-0old on 3 and i-0new on 4", got)
	}
}
