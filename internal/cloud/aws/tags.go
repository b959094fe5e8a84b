package aws

import (
	"context"
	"fmt"
	"maps"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kapstan/kapstan/internal/engine"
)

// ec2Tags converts tags for EC2 calls, in key order.
func ec2Tags(t Tags) []ec2types.Tag {
	out := make([]ec2types.Tag, 0, len(t))
	for _, k := range sortedKeys(t) {
		out = append(out, ec2types.Tag{Key: aws.String(k), Value: aws.String(t[k])})
	}
	return out
}

// ec2TagSpec tags a resource as it is created, so that no run can see it
// untagged: an interrupted apply finds it again by its address tag.
func ec2TagSpec(rt ec2types.ResourceType, t Tags) []ec2types.TagSpecification {
	return []ec2types.TagSpecification{{ResourceType: rt, Tags: ec2Tags(t)}}
}

// fromEC2Tags converts EC2 tags to a map.
func fromEC2Tags(tags []ec2types.Tag) Tags {
	out := Tags{}
	for _, t := range tags {
		out[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return out
}

// clusterFilter selects EC2 resources that carry the cluster's
// kapstan.io/address tag for the kind: the ones kapstan made.
func (c *Cloud) ownedFilters(kind string) []ec2types.Filter {
	return []ec2types.Filter{
		{Name: aws.String("tag:" + TagKubernetesCluster), Values: []string{c.Cluster}},
		{Name: aws.String("tag-key"), Values: []string{TagAddress}},
	}
}

// addressOf reads the kapstan.io/address tag of a resource of kind; ok is
// false when the tag is missing or names another kind.
func addressOf(kind string, t Tags) (engine.Address, bool) {
	a, err := engine.ParseAddress(t[TagAddress])
	if err != nil || a.Kind != kind {
		return engine.Address{}, false
	}
	return a, true
}

// addOwned files r, read from the cloud with tags, under its address in
// byAddr if it is this cluster's resource of kind, and returns that
// address; ok is false when it is not the cluster's. Two resources with one
// address are an error naming both by id (plural names the kind in it):
// which of them the spec means cannot be told.
func addOwned[T any](c *Cloud, kind, plural string, byAddr map[engine.Address]T, tags Tags, r T, id func(T) string) (addr engine.Address, ok bool, err error) {
	addr, ok = addressOf(kind, tags)
	if !ok || tags[TagKubernetesCluster] != c.Cluster {
		return engine.Address{}, false, nil
	}
	if prev, dup := byAddr[addr]; dup {
		return addr, false, fmt.Errorf("%s %s and %s both carry %s=%s", plural, id(prev), id(r), TagAddress, addr)
	}
	byAddr[addr] = r
	return addr, true, nil
}

// tagEC2 adds or corrects the tags of want that EC2 resource id lacks.
// Tags it has beyond want are left alone, as Differ.Tags does; mergeTags
// gives the tags it has afterwards.
func tagEC2(ctx context.Context, c *Cloud, id string, have, want Tags) error {
	add := tagsToAdd(have, want)
	if len(add) == 0 {
		return nil
	}
	_, err := c.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: ec2Tags(add)})
	return err
}

// mergeTags returns have with want's tags set over it: the tags a
// resource has after tagEC2.
func mergeTags(have, want Tags) Tags {
	out := maps.Clone(have)
	if out == nil {
		out = Tags{}
	}
	maps.Copy(out, want)
	return out
}

// tagsToAdd returns the tags of want that have lost or other values in have.
func tagsToAdd(have, want Tags) Tags {
	out := Tags{}
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			out[k] = v
		}
	}
	return out
}
