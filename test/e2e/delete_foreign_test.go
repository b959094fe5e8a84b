package e2e

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// TestDeleteWhatAFailedKopsDeleteLeft is the case of a kops cluster whose
// own delete failed halfway: a VPC, a security group and an etcd volume
// tagged for the cluster, no kapstan spec. The preview shows them as
// another tool's, --yes keeps them and fails naming them, and only
// --include-foreign deletes them.
func TestDeleteWhatAFailedKopsDeleteLeft(t *testing.T) {
	t.Parallel()
	const name = "kops-left.example.com" // e2e tests share one moto account
	_, url := fileStore(t)
	env := newEnv(t, url)
	cfg, err := motoSrv.Config(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c := ec2.NewFromConfig(cfg)
	tags := func(rt ec2types.ResourceType, extra ...ec2types.Tag) []ec2types.TagSpecification {
		return []ec2types.TagSpecification{{ResourceType: rt, Tags: append([]ec2types.Tag{
			{Key: aws.String("KubernetesCluster"), Value: aws.String(name)},
			{Key: aws.String("kubernetes.io/cluster/" + name), Value: aws.String("owned")},
			{Key: aws.String("Name"), Value: aws.String(name)},
		}, extra...)}}
	}
	vpc, err := c.CreateVpc(t.Context(), &ec2.CreateVpcInput{CidrBlock: aws.String("172.21.0.0/16"), TagSpecifications: tags(ec2types.ResourceTypeVpc)})
	if err != nil {
		t.Fatal(err)
	}
	vpcID := aws.ToString(vpc.Vpc.VpcId)
	sg, err := c.CreateSecurityGroup(t.Context(), &ec2.CreateSecurityGroupInput{GroupName: aws.String("nodes." + name), Description: aws.String("nodes"),
		VpcId: &vpcID, TagSpecifications: tags(ec2types.ResourceTypeSecurityGroup)})
	if err != nil {
		t.Fatal(err)
	}
	vol, err := c.CreateVolume(t.Context(), &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(20),
		TagSpecifications: tags(ec2types.ResourceTypeVolume, ec2types.Tag{Key: aws.String("k8s.io/etcd/main"), Value: aws.String("a/a")})})
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{vpcID, aws.ToString(sg.GroupId), aws.ToString(vol.VolumeId)}

	preview := mustRun(t, env, "", "delete", "cluster", name, "--region", "us-east-1")
	for _, want := range append([]string{"foreign", "made by kops (k8s.io/etcd/main=a/a)", "keep", "--include-foreign"}, ids...) {
		if !strings.Contains(preview, want) {
			t.Errorf("preview lacks %q:\n%s", want, preview)
		}
	}
	r := run(t, env, "", "delete", "cluster", name, "--region", "us-east-1", "--yes")
	if r.code == 0 || !strings.Contains(r.stderr, "made by another tool, not deleted") || !strings.Contains(r.stderr, "--include-foreign --yes") {
		t.Fatalf("delete --yes next to foreign resources: want a failure naming them:\n%s", r)
	}
	for _, id := range ids {
		if !strings.Contains(r.stderr, id) {
			t.Errorf("the error does not name %s:\n%s", id, r.stderr)
		}
	}
	out, err := c.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{VolumeIds: ids[2:]})
	if err != nil || len(out.Volumes) != 1 {
		t.Fatalf("the etcd volume is gone after a delete without --include-foreign: %v", err)
	}

	mustRun(t, env, "", "delete", "cluster", name, "--region", "us-east-1", "--include-foreign", "--yes")
	if out := mustRun(t, env, "", "delete", "cluster", name, "--region", "us-east-1", "--yes"); !strings.Contains(out, "has no resources") {
		t.Fatalf("delete after --include-foreign:\n%s", out)
	}
}
