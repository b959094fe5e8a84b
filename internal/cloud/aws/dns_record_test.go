package aws

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/smithy-go"

	"github.com/kapstan/kapstan/internal/engine"
)

func computeRecord(t *testing.T, c *Cloud, zoneID, name string) *r53types.ResourceRecordSet {
	t.Helper()
	rs, err := lookupRecord(context.Background(), c, zoneID, name)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestDNSRecordLifecycle points api.demo.example.com at the API load
// balancer in a zone example.com the user made, repairs a record changed
// by hand, and deletes it as an orphan.
func TestDNSRecordLifecycle(t *testing.T) {
	t.Parallel()
	base, counter := testCloud(t)
	ctx := context.Background()
	c := New(base.Clients, "demo.example.com", base.Region)
	n := computeTestPrereqs(t, c)
	zone, err := c.Route53.(*route53.Client).CreateHostedZone(ctx, &route53.CreateHostedZoneInput{
		Name: aws.String("example.com"), CallerReference: aws.String("test"),
	})
	if err != nil {
		t.Fatal(err)
	}
	zoneID := aws.ToString(zone.HostedZone.Id)
	s := computeTestAPIStack(c, n)
	rec := &DNSRecord{
		Name: "api.demo.example.com", ZoneName: "example.com", RecordName: "api.demo.example.com",
		LoadBalancer: engine.RefTo(KindLoadBalancer, "api"),
	}

	converge(t, c, s.all(rec)...)
	assertInSync(t, c, counter, s.all(rec)...)
	computeCheckCalls(t, counter)
	converge(t, c, s.lb, rec)
	lb, err := s.lb.find(ctx, fresh(c), nil)
	if err != nil || lb == nil {
		t.Fatalf("load balancer: %v", err)
	}
	lbDNS := lb.(*LoadBalancer).DNSName
	rs := computeRecord(t, c, zoneID, rec.RecordName)
	if rs == nil || rs.AliasTarget == nil || dnsAliasName(aws.ToString(rs.AliasTarget.DNSName)) != dnsName(lbDNS) {
		t.Fatalf("record %+v, want an alias to %s", rs, lbDNS)
	}

	t.Run("a record changed by hand is repaired", func(t *testing.T) {
		if _, err := c.Route53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
			HostedZoneId: aws.String(zoneID),
			ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{{
				Action: r53types.ChangeActionUpsert,
				ResourceRecordSet: &r53types.ResourceRecordSet{
					Name: aws.String("api.demo.example.com."), Type: r53types.RRTypeA,
					AliasTarget: &r53types.AliasTarget{DNSName: aws.String("other.elb.amazonaws.com"), HostedZoneId: rs.AliasTarget.HostedZoneId},
				},
			}}},
		}); err != nil {
			t.Fatal(err)
		}
		computeCheckPlan(t, planOf(t, c, s.lb, rec), map[engine.Address]string{
			rec.Address(): "update:\nalias.dnsName: other.elb.amazonaws.com → " + dnsName(lbDNS),
		})
		converge(t, c, s.lb, rec)
		assertInSync(t, c, counter, s.lb, rec)
	})

	t.Run("orphan", func(t *testing.T) {
		plan := planOf(t, c, s.lb)
		computeCheckPlan(t, plan, map[engine.Address]string{rec.Address(): "delete"})
		if ch := computeChange(t, plan, rec.Address()); !slices.Equal(ch.Actual().Dependencies(), []engine.Address{s.lb.Address()}) {
			t.Errorf("orphan record depends on %v, want the load balancer", ch.Actual().Dependencies())
		}
		converge(t, c, s.lb)
		if rs := computeRecord(t, c, zoneID, rec.RecordName); rs != nil {
			t.Fatalf("record still there: %+v", rs)
		}
	})

	t.Run("a missing zone names spec.dnsZone", func(t *testing.T) {
		bad := *rec
		bad.ZoneName = "example.org"
		_, err := engine.MakePlan(ctx, fresh(c), c.Cluster, 1, []engine.Resource{s.lb, &bad})
		if err == nil || !strings.Contains(err.Error(), "spec.dnsZone") || !strings.Contains(err.Error(), "example.org") {
			t.Fatalf("err = %v", err)
		}
	})
}

// computeCheckCalls checks the reads of the compute kinds in the plan
// assertInSync just made, for a cluster with one of each: one batched
// read per kind, plus what cannot be batched (see the report in each
// loader's comment).
func computeCheckCalls(t *testing.T, counter *CallCounter) {
	t.Helper()
	want := map[string]int{
		"EC2.DescribeLaunchTemplates":                     1,
		"EC2.DescribeLaunchTemplateVersions":              1, // all templates' $Latest at once
		"EC2.DescribeTags":                                0, // orphans' subnets and SGs are named from cached reads
		"Auto Scaling.DescribeAutoScalingGroups":          1,
		"Elastic Load Balancing v2.DescribeLoadBalancers": 1,
		"Elastic Load Balancing v2.DescribeTargetGroups":  1,
		"Elastic Load Balancing v2.DescribeTags":          1, // load balancers and target groups together
		"Elastic Load Balancing v2.DescribeListeners":     1, // one per load balancer
		"Route 53.ListHostedZonesByName":                  2, // demo.example.com, example.com
		"Route 53.ListResourceRecordSets":                 2, // api. and api.internal. in example.com
	}
	calls := counter.Calls()
	for op, n := range want {
		if calls[op] != n {
			t.Errorf("%s: %d calls, want %d", op, calls[op], n)
		}
	}
	if t.Failed() {
		t.Logf("all calls: %v", calls)
	}
}

// TestDNSRecordsGossipCluster checks that a *.k8s.local cluster, which
// has no DNS, makes no Route 53 call when looking for orphans.
func TestDNSRecordsGossipCluster(t *testing.T) {
	t.Parallel()
	c, counter := testCloud(t)
	counter.Reset()
	owned, err := c.ownedDNSRecords(context.Background())
	if err != nil || len(owned) != 0 {
		t.Fatalf("owned: %v, %v", owned, err)
	}
	if n := counter.Total(); n != 0 {
		t.Errorf("%d calls, want none: %v", n, counter.Calls())
	}
}

func TestDNSZoneCandidates(t *testing.T) {
	tests := []struct {
		cluster string
		want    []string
	}{
		{"demo.example.com", []string{"demo.example.com", "example.com"}},
		{"a.b.example.co.uk", []string{"a.b.example.co.uk", "b.example.co.uk", "example.co.uk", "co.uk"}},
		{"test.k8s.local", nil},
		{"Demo.Example.com.", []string{"demo.example.com", "example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.cluster, func(t *testing.T) {
			if got := dnsZoneCandidates(tt.cluster); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// fakeDNS answers a DELETE with an error and a lookup with a record, or
// none.
type fakeDNS struct {
	Route53API
	changeErr error
	record    *r53types.ResourceRecordSet
}

func (f *fakeDNS) ChangeResourceRecordSets(context.Context, *route53.ChangeResourceRecordSetsInput, ...func(*route53.Options)) (*route53.ChangeResourceRecordSetsOutput, error) {
	return &route53.ChangeResourceRecordSetsOutput{}, f.changeErr
}

func (f *fakeDNS) ListResourceRecordSets(context.Context, *route53.ListResourceRecordSetsInput, ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error) {
	out := &route53.ListResourceRecordSetsOutput{}
	if f.record != nil {
		out.ResourceRecordSets = []r53types.ResourceRecordSet{*f.record}
	}
	return out, nil
}

// TestDNSRecordDeleteAWSErrors covers AWS's answer to a DELETE that
// matches nothing (InvalidChangeBatch; moto says InvalidInput): it means
// "already gone" only when a fresh read finds no record.
func TestDNSRecordDeleteAWSErrors(t *testing.T) {
	invalidBatch := &smithy.GenericAPIError{Code: "InvalidChangeBatch", Message: "[Tried to delete resource record set [name='api.demo.example.com.', type='A'] but it was not found]"}
	invalidInput := &smithy.GenericAPIError{Code: "InvalidInput", Message: "Invalid request: Expected exactly one of [AliasTarget, ...]"}
	present := &r53types.ResourceRecordSet{Name: aws.String("api.demo.example.com."), Type: r53types.RRTypeA}
	other := &r53types.ResourceRecordSet{Name: aws.String("b.demo.example.com."), Type: r53types.RRTypeA}
	tests := []struct {
		name    string
		fake    *fakeDNS
		wantErr bool
	}{
		{"AWS: already gone", &fakeDNS{changeErr: invalidBatch}, false},
		{"AWS: the next record is another one", &fakeDNS{changeErr: invalidBatch, record: other}, false},
		{"AWS: changed since it was read", &fakeDNS{changeErr: invalidBatch, record: present}, true},
		{"moto: already gone", &fakeDNS{changeErr: invalidInput}, false},
		{"moto: changed since it was read", &fakeDNS{changeErr: invalidInput, record: present}, true},
		{"zone gone", &fakeDNS{changeErr: &smithy.GenericAPIError{Code: "NoSuchHostedZone"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Clients{Route53: tt.fake}, "demo.example.com", "us-east-1")
			r := &DNSRecord{Name: "api.demo.example.com", RecordName: "api.demo.example.com", zoneID: "Z1", record: present}
			if err := r.delete(context.Background(), c); (err != nil) != tt.wantErr {
				t.Errorf("err = %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}
