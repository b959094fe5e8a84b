package aws

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/kapstan/kapstan/internal/engine"
)

// computeTestNet is what the compute tests need from the network: made
// with the plain SDK, so they do not depend on the network kinds.
type computeTestNet struct {
	vpc     string
	subnets []string // one per zone: us-east-1a, b, c
	sg      string
	profile string
}

// computeTestPrereqs makes a VPC, three subnets in three zones, a
// security group and an instance profile with a role.
func computeTestPrereqs(t *testing.T, c *Cloud) computeTestNet {
	t.Helper()
	ctx := context.Background()
	ec2c := c.EC2.(*ec2.Client)
	vpc, err := ec2c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	n := computeTestNet{vpc: aws.ToString(vpc.Vpc.VpcId)}
	for i, zone := range []string{"us-east-1a", "us-east-1b", "us-east-1c"} {
		s, err := ec2c.CreateSubnet(ctx, &ec2.CreateSubnetInput{
			VpcId: aws.String(n.vpc), CidrBlock: aws.String(fmt.Sprintf("10.0.%d.0/24", i)), AvailabilityZone: aws.String(zone),
		})
		if err != nil {
			t.Fatal(err)
		}
		n.subnets = append(n.subnets, aws.ToString(s.Subnet.SubnetId))
	}
	sg, err := ec2c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName: aws.String("nodes"), Description: aws.String("nodes"), VpcId: aws.String(n.vpc),
	})
	if err != nil {
		t.Fatal(err)
	}
	n.sg = aws.ToString(sg.GroupId)
	iamc := c.IAM.(*iam.Client)
	if _, err := iamc.CreateRole(ctx, &iam.CreateRoleInput{
		RoleName:                 aws.String("nodes"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := iamc.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String("nodes")}); err != nil {
		t.Fatal(err)
	}
	if _, err := iamc.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{
		InstanceProfileName: aws.String("nodes"), RoleName: aws.String("nodes"),
	}); err != nil {
		t.Fatal(err)
	}
	n.profile = "nodes"
	return n
}

func computeTestLT(c *Cloud, n computeTestNet) *LaunchTemplate {
	lt := &LaunchTemplate{
		Name:                "nodes",
		TemplateName:        "nodes." + c.Cluster,
		ImageID:             "ami-12c6146b",
		InstanceType:        "t3.medium",
		SecurityGroups:      []engine.Ref{engine.RefID(n.sg)},
		InstanceProfile:     engine.RefID(n.profile),
		UserData:            "#!/bin/sh\necho hello\n",
		RootVolumeSize:      64,
		RootVolumeType:      "gp3",
		RootVolumeEncrypted: true,
		InstanceTags:        Tags{"k8s.io/role/node": "1", TagKubernetesCluster: c.Cluster},
	}
	lt.Tags = OwnedTags(c.Cluster, lt.Address(), lt.TemplateName, nil)
	return lt
}

// TestLaunchTemplateWritesWholeVersion reads back what kapstan wrote:
// IMDSv2 with hop limit 1, an encrypted root volume on /dev/xvda, base64
// user data, the instance profile by name, tags on instances and volumes.
func TestLaunchTemplateWritesWholeVersion(t *testing.T) {
	t.Parallel()
	c, counter := testCloud(t)
	n := computeTestPrereqs(t, c)
	lt := computeTestLT(c, n)
	converge(t, c, lt)
	assertInSync(t, c, counter, lt)

	out, err := c.EC2.DescribeLaunchTemplateVersions(context.Background(), &ec2.DescribeLaunchTemplateVersionsInput{
		LaunchTemplateName: aws.String(lt.TemplateName), Versions: []string{"$Latest"},
	})
	if err != nil {
		t.Fatal(err)
	}
	data := out.LaunchTemplateVersions[0].LaunchTemplateData
	ud, _ := base64.StdEncoding.DecodeString(aws.ToString(data.UserData))
	checks := []struct {
		name      string
		got, want any
	}{
		{"httpTokens", data.MetadataOptions.HttpTokens, ec2types.LaunchTemplateHttpTokensStateRequired},
		{"hopLimit", aws.ToInt32(data.MetadataOptions.HttpPutResponseHopLimit), int32(1)},
		{"rootDevice", aws.ToString(data.BlockDeviceMappings[0].DeviceName), "/dev/xvda"},
		{"encrypted", aws.ToBool(data.BlockDeviceMappings[0].Ebs.Encrypted), true},
		{"userData", string(ud), lt.UserData},
		{"profile", aws.ToString(data.IamInstanceProfile.Name), n.profile},
		{"keyName", data.KeyName, (*string)(nil)},
	}
	// moto adds the template's own tags as a third specification.
	specs := map[ec2types.ResourceType]int{}
	for _, ts := range data.TagSpecifications {
		specs[ts.ResourceType] = len(ts.Tags)
	}
	checks = append(checks, struct {
		name      string
		got, want any
	}{"instance and volume tags", [2]int{specs[ec2types.ResourceTypeInstance], specs[ec2types.ResourceTypeVolume]}, [2]int{2, 2}})
	for _, ch := range checks {
		if fmt.Sprint(ch.got) != fmt.Sprint(ch.want) {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestLaunchTemplateDiff(t *testing.T) {
	base := func() (*LaunchTemplate, *LaunchTemplate) {
		want := &LaunchTemplate{
			Name: "nodes", TemplateName: "nodes.x", ImageID: "ami-1", InstanceType: "t3.medium",
			SecurityGroups: []engine.Ref{engine.RefID("sg-1")}, InstanceProfile: engine.RefID("nodes"),
			UserData: "#!/bin/sh\n", RootVolumeEncrypted: true, Tags: Tags{"a": "1"}, InstanceTags: Tags{"r": "1"},
		}
		have := want.actualFrom("lt-1", 1, nil)
		return want, have
	}
	tests := []struct {
		name   string
		change func(want, have *LaunchTemplate)
		want   []string
	}{
		{"in sync", func(*LaunchTemplate, *LaunchTemplate) {}, nil},
		{"user data shows as a digest", func(w, _ *LaunchTemplate) { w.UserData = "#!/bin/sh\necho new secret\n" },
			[]string{"userData: " + computeDigest("#!/bin/sh\n") + " → " + computeDigest("#!/bin/sh\necho new secret\n")}},
		{"IMDSv1 allowed by hand", func(_, h *LaunchTemplate) { h.httpTokens = "optional" },
			[]string{"metadata.httpTokens: optional → required"}},
		{"instance tag removed", func(w, _ *LaunchTemplate) { w.InstanceTags = Tags{} },
			[]string{"instanceTags[r]: 1 → (none)"}},
		{"extra template tag ignored", func(_, h *LaunchTemplate) { h.Tags["aws:x"] = "y" }, nil},
		{"key pair added", func(w, _ *LaunchTemplate) { w.KeyPair = engine.RefTo(KindKeyPair, "admin") },
			[]string{"keyName: (none) → (KeyPair/admin, known after apply)"}},
		{"name", func(w, _ *LaunchTemplate) { w.TemplateName = "other" },
			[]string{"templateName: nodes.x → other (forces replacement)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, have := base()
			tt.change(want, have)
			var got []string
			for _, f := range want.Diff(have, nil) {
				got = append(got, f.String())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// fakeLaunchTemplates records the versions written. Its other methods
// panic (nil embedded interface): the test must not reach them.
type fakeLaunchTemplates struct {
	EC2API
	versions []*ec2.CreateLaunchTemplateVersionInput
	defaults []string
}

func (f *fakeLaunchTemplates) CreateLaunchTemplateVersion(_ context.Context, in *ec2.CreateLaunchTemplateVersionInput, _ ...func(*ec2.Options)) (*ec2.CreateLaunchTemplateVersionOutput, error) {
	f.versions = append(f.versions, in)
	return &ec2.CreateLaunchTemplateVersionOutput{LaunchTemplateVersion: &ec2types.LaunchTemplateVersion{VersionNumber: aws.Int64(8)}}, nil
}

func (f *fakeLaunchTemplates) ModifyLaunchTemplate(_ context.Context, in *ec2.ModifyLaunchTemplateInput, _ ...func(*ec2.Options)) (*ec2.ModifyLaunchTemplateOutput, error) {
	f.defaults = append(f.defaults, aws.ToString(in.DefaultVersion))
	return &ec2.ModifyLaunchTemplateOutput{}, nil
}

// TestLaunchTemplateUpdateSendsWholeData covers AWS's SourceVersion
// semantics, which moto ignores: a one-field change still writes every
// field, with no SourceVersion, so the new version never depends on what
// an older one held, and becomes the default.
func TestLaunchTemplateUpdateSendsWholeData(t *testing.T) {
	fake := &fakeLaunchTemplates{}
	c := New(Clients{EC2: fake}, "x.k8s.local", "us-east-1")
	want := &LaunchTemplate{
		Name: "nodes", TemplateName: "nodes.x", ImageID: "ami-1", InstanceType: "t3.large",
		SecurityGroups: []engine.Ref{engine.RefID("sg-1")}, InstanceProfile: engine.RefID("nodes"),
		KeyPair: engine.RefID("admin"), UserData: "boot", SpotMaxPrice: "0.1", RootVolumeEncrypted: true,
		InstanceTags: Tags{"r": "1"},
	}
	have := want.actualFrom("lt-1", 7, nil)
	have.InstanceType = "t3.medium"
	diffs := want.Diff(have, nil)
	got, err := want.update(context.Background(), c, have, diffs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v := got.(*LaunchTemplate).Version; v != 8 {
		t.Errorf("version = %d, want 8", v)
	}
	if len(fake.versions) != 1 || fake.defaults[0] != "8" {
		t.Fatalf("versions %d, defaults %v", len(fake.versions), fake.defaults)
	}
	in := fake.versions[0]
	d := in.LaunchTemplateData
	if in.SourceVersion != nil {
		t.Errorf("SourceVersion = %q, want none", aws.ToString(in.SourceVersion))
	}
	if aws.ToString(d.ImageId) != "ami-1" || d.InstanceType != "t3.large" || len(d.SecurityGroupIds) != 1 ||
		d.IamInstanceProfile == nil || aws.ToString(d.KeyName) != "admin" || d.UserData == nil ||
		d.InstanceMarketOptions == nil || d.MetadataOptions == nil || len(d.BlockDeviceMappings) != 1 ||
		len(d.TagSpecifications) != 2 {
		t.Errorf("version data is not whole: %+v", d)
	}
}
