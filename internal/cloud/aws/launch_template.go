package aws

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kapstan/kapstan/internal/engine"
)

// launchTemplateAPI is the EC2 calls the launch template code makes.
type launchTemplateAPI interface {
	DescribeLaunchTemplates(ctx context.Context, params *ec2.DescribeLaunchTemplatesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeLaunchTemplatesOutput, error)
	DescribeLaunchTemplateVersions(ctx context.Context, params *ec2.DescribeLaunchTemplateVersionsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeLaunchTemplateVersionsOutput, error)
	CreateLaunchTemplate(ctx context.Context, params *ec2.CreateLaunchTemplateInput, optFns ...func(*ec2.Options)) (*ec2.CreateLaunchTemplateOutput, error)
	CreateLaunchTemplateVersion(ctx context.Context, params *ec2.CreateLaunchTemplateVersionInput, optFns ...func(*ec2.Options)) (*ec2.CreateLaunchTemplateVersionOutput, error)
	ModifyLaunchTemplate(ctx context.Context, params *ec2.ModifyLaunchTemplateInput, optFns ...func(*ec2.Options)) (*ec2.ModifyLaunchTemplateOutput, error)
	DeleteLaunchTemplate(ctx context.Context, params *ec2.DeleteLaunchTemplateInput, optFns ...func(*ec2.Options)) (*ec2.DeleteLaunchTemplateOutput, error)
	CreateTags(ctx context.Context, params *ec2.CreateTagsInput, optFns ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
}

// LaunchTemplate describes the instances of one instance group. A change
// makes a new version, which becomes the default; the Auto Scaling group
// then names that version and rolling-update replaces the instances.
type LaunchTemplate struct {
	Name         string
	TemplateName string
	ID           string
	// Version is, on an actual template, its newest version.
	Version         int64
	ImageID         string
	InstanceType    string
	SecurityGroups  []engine.Ref
	InstanceProfile engine.Ref
	KeyPair         engine.Ref
	// UserData is the boot script, in plain text.
	UserData            string
	RootDeviceName      string
	RootVolumeSize      int32
	RootVolumeType      string
	RootVolumeEncrypted bool
	// SpotMaxPrice, when set, asks for spot instances at up to this price.
	SpotMaxPrice string
	// Tags are the template's own tags; InstanceTags go on the instances
	// and volumes it launches.
	Tags         Tags
	InstanceTags Tags

	// Read from AWS only: the metadata options of the newest version,
	// compared with what kapstan always sets.
	httpTokens   string
	hopLimit     int32
	httpEndpoint string
	// newVersionPlanned is set by find on the actual template when the
	// desired one differs in a way that makes a new version. The Auto
	// Scaling group's Diff reads it through refs to show its version as
	// known after apply: Diff sees refs, not the template's own plan.
	newVersionPlanned bool
}

// Address implements engine.Resource.
func (r *LaunchTemplate) Address() engine.Address {
	return engine.Address{Kind: KindLaunchTemplate, Name: r.Name}
}

// Dependencies implements engine.Resource.
func (r *LaunchTemplate) Dependencies() []engine.Address {
	return deps(append(append([]engine.Ref{}, r.SecurityGroups...), r.InstanceProfile, r.KeyPair)...)
}

// CloudID implements engine.Identified.
func (r *LaunchTemplate) CloudID() string { return r.ID }

// Summary implements engine.Summarizer.
func (r *LaunchTemplate) Summary() string {
	return fmt.Sprintf("%s, %s", r.InstanceType, r.ImageID)
}

// Instance metadata settings of every template. IMDSv2 only: a stolen
// request-forgery primitive cannot read credentials without a PUT. The
// hop limit is 1, so the token cannot cross the extra hop of a pod's
// network namespace: pods on the pod network cannot borrow the node's
// role (they get their own through service-account credentials), while
// kubelet, nodeup and host-network add-ons, which need the metadata
// service, share the host's namespace and are unaffected. kops makes the
// same choice for new clusters.
const (
	ltHTTPTokens   = "required"
	ltHopLimit     = 1
	ltHTTPEndpoint = "enabled"
	// ltDefaultRootDevice is the root device of Amazon Linux and Ubuntu
	// AMIs on Nitro instances.
	ltDefaultRootDevice = "/dev/xvda"
	// ltDefaultVolumeType is used when the model gives none, so that the
	// template always states a type and reads back equal.
	ltDefaultVolumeType = "gp3"
)

func (r *LaunchTemplate) rootDevice() string {
	if r.RootDeviceName == "" {
		return ltDefaultRootDevice
	}
	return r.RootDeviceName
}

func (r *LaunchTemplate) volumeType() string {
	if r.RootVolumeType == "" {
		return ltDefaultVolumeType
	}
	return r.RootVolumeType
}

// Diff implements engine.Resource. Every field but the tags and the name
// lives in a version: changing one makes a new version.
func (r *LaunchTemplate) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff {
	a := actual.(*LaunchTemplate)
	var d engine.Differ
	d.Immutable("templateName", a.TemplateName, r.TemplateName)
	r.diffData(&d, a, refs)
	d.Tags(a.Tags, r.Tags)
	return d.Diffs()
}

// diffData compares the fields a version holds.
func (r *LaunchTemplate) diffData(d *engine.Differ, a *LaunchTemplate, refs engine.Refs) {
	d.String("imageId", a.ImageID, r.ImageID)
	d.String("instanceType", a.InstanceType, r.InstanceType)
	d.Set("securityGroups", computeIDs(a.SecurityGroups), computeWantIDs(r.SecurityGroups, refs))
	computeRefDiff(d, "iamInstanceProfile", a.InstanceProfile.ID, r.InstanceProfile, refs)
	computeRefDiff(d, "keyName", a.KeyPair.ID, r.KeyPair, refs)
	d.String("userData", computeDigest(a.UserData), computeDigest(r.UserData))
	d.String("rootVolume.deviceName", a.RootDeviceName, r.rootDevice())
	d.Int("rootVolume.size", int64(a.RootVolumeSize), int64(r.RootVolumeSize))
	d.String("rootVolume.type", a.RootVolumeType, r.volumeType())
	d.Bool("rootVolume.encrypted", a.RootVolumeEncrypted, r.RootVolumeEncrypted)
	d.String("spotMaxPrice", a.SpotMaxPrice, r.SpotMaxPrice)
	d.String("metadata.httpTokens", a.httpTokens, ltHTTPTokens)
	d.Int("metadata.hopLimit", int64(a.hopLimit), ltHopLimit)
	d.String("metadata.httpEndpoint", a.httpEndpoint, ltHTTPEndpoint)
	computeExactTags(d, "instanceTags", a.InstanceTags, r.InstanceTags)
}

// ltMakesVersion reports whether a diff is held by a version (anything but
// the template's own tags).
func ltMakesVersion(f engine.FieldDiff) bool {
	return !strings.HasPrefix(f.Path, "tags[") && f.Path != "templateName"
}

// ltActuals are the cluster's launch templates by address, with their
// newest version.
type ltActuals struct {
	byAddr map[engine.Address]*LaunchTemplate
	// addrByID names templates for the Auto Scaling groups that use them.
	addrByID map[string]engine.Address
}

// loadLaunchTemplates reads the cluster's templates: one
// DescribeLaunchTemplates filtered by the cluster's tags, then, if there
// are any, one DescribeLaunchTemplateVersions for the newest version of
// every template in the account. That API takes one template id or none,
// never a list: with no id and Versions=$Latest it returns the latest
// version of all templates, which costs one call (a page per 200
// templates) instead of one per instance group; foreign templates are
// dropped by id.
func loadLaunchTemplates(ctx context.Context, c *Cloud) (*ltActuals, error) {
	out := &ltActuals{byAddr: map[engine.Address]*LaunchTemplate{}, addrByID: map[string]engine.Address{}}
	byID := map[string]*LaunchTemplate{}
	// moto ignores NextToken here and cuts the list at MaxResults
	// (default 15): ask for AWS's maximum page so tests see them all.
	p := ec2.NewDescribeLaunchTemplatesPaginator(c.EC2, &ec2.DescribeLaunchTemplatesInput{
		Filters:    c.ownedFilters(KindLaunchTemplate),
		MaxResults: aws.Int32(200),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing launch templates: %w", err)
		}
		for _, t := range page.LaunchTemplates {
			tags := fromEC2Tags(t.Tags)
			lt := &LaunchTemplate{
				TemplateName: aws.ToString(t.LaunchTemplateName),
				ID:           aws.ToString(t.LaunchTemplateId),
				Version:      aws.ToInt64(t.LatestVersionNumber),
				Tags:         tags,
			}
			addr, ok, err := addOwned(c, KindLaunchTemplate, "launch templates", out.byAddr, tags, lt, func(l *LaunchTemplate) string { return l.ID })
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			lt.Name = addr.Name
			out.addrByID[lt.ID] = addr
			byID[lt.ID] = lt
		}
	}
	if len(byID) == 0 {
		return out, nil
	}
	vp := ec2.NewDescribeLaunchTemplateVersionsPaginator(c.EC2, &ec2.DescribeLaunchTemplateVersionsInput{
		Versions:   []string{"$Latest"},
		MaxResults: aws.Int32(200),
	})
	for vp.HasMorePages() {
		page, err := vp.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading launch template versions: %w", err)
		}
		for _, v := range page.LaunchTemplateVersions {
			if lt, ok := byID[aws.ToString(v.LaunchTemplateId)]; ok {
				lt.Version = aws.ToInt64(v.VersionNumber)
				lt.readData(v.LaunchTemplateData)
			}
		}
	}
	return out, nil
}

// readData fills the fields a version holds.
func (r *LaunchTemplate) readData(data *ec2types.ResponseLaunchTemplateData) {
	if data == nil {
		return
	}
	r.ImageID = aws.ToString(data.ImageId)
	r.InstanceType = string(data.InstanceType)
	r.SecurityGroups = nil
	for _, id := range data.SecurityGroupIds {
		r.SecurityGroups = append(r.SecurityGroups, engine.RefID(id))
	}
	if p := data.IamInstanceProfile; p != nil {
		name := aws.ToString(p.Name)
		if name == "" && p.Arn != nil {
			// arn:aws:iam::123456789012:instance-profile/path/NAME
			arn := aws.ToString(p.Arn)
			name = arn[strings.LastIndex(arn, "/")+1:]
		}
		r.InstanceProfile = engine.RefID(name)
	}
	if k := aws.ToString(data.KeyName); k != "" {
		r.KeyPair = engine.RefID(k)
	}
	if ud := aws.ToString(data.UserData); ud != "" {
		plain, err := base64.StdEncoding.DecodeString(ud)
		if err != nil {
			plain = []byte(ud) // shows as a difference, and the next version fixes it
		}
		r.UserData = string(plain)
	}
	if len(data.BlockDeviceMappings) > 0 {
		bd := data.BlockDeviceMappings[0]
		r.RootDeviceName = aws.ToString(bd.DeviceName)
		if bd.Ebs != nil {
			r.RootVolumeSize = aws.ToInt32(bd.Ebs.VolumeSize)
			r.RootVolumeType = string(bd.Ebs.VolumeType)
			r.RootVolumeEncrypted = aws.ToBool(bd.Ebs.Encrypted)
		}
	}
	if m := data.InstanceMarketOptions; m != nil && m.SpotOptions != nil {
		r.SpotMaxPrice = aws.ToString(m.SpotOptions.MaxPrice)
	}
	if m := data.MetadataOptions; m != nil {
		r.httpTokens = string(m.HttpTokens)
		r.hopLimit = aws.ToInt32(m.HttpPutResponseHopLimit)
		r.httpEndpoint = string(m.HttpEndpoint)
	}
	for _, ts := range data.TagSpecifications {
		if ts.ResourceType == ec2types.ResourceTypeInstance {
			r.InstanceTags = fromEC2Tags(ts.Tags)
		}
	}
}

func launchTemplates(ctx context.Context, c *Cloud) (*ltActuals, error) {
	return cached(ctx, c, "compute:launchTemplates", func(ctx context.Context) (*ltActuals, error) {
		return loadLaunchTemplates(ctx, c)
	})
}

func (r *LaunchTemplate) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	all, err := launchTemplates(ctx, c)
	if err != nil {
		return nil, err
	}
	found, ok := all.byAddr[r.Address()]
	if !ok {
		return nil, nil
	}
	a := *found // the cached value is shared by every reader
	a.Tags = maps.Clone(found.Tags)
	a.SecurityGroups = computeActualRefs(computeIDs(found.SecurityGroups), r.SecurityGroups, refs, nil)
	a.InstanceProfile = computeActualRef(found.InstanceProfile.ID, r.InstanceProfile, refs)
	a.KeyPair = computeActualRef(found.KeyPair.ID, r.KeyPair, refs)
	a.newVersionPlanned = slices.ContainsFunc(r.Diff(&a, refs), ltMakesVersion)
	return &a, nil
}

// data is the whole content of a version. Every version is sent in full:
// AWS would copy the fields left out from SourceVersion, but moto ignores
// SourceVersion (a version made from a source holds only the fields
// passed), and a full version does not depend on what an older one held.
func (r *LaunchTemplate) data(refs engine.Refs) (*ec2types.RequestLaunchTemplateData, error) {
	data := &ec2types.RequestLaunchTemplateData{
		ImageId:      aws.String(r.ImageID),
		InstanceType: ec2types.InstanceType(r.InstanceType),
		MetadataOptions: &ec2types.LaunchTemplateInstanceMetadataOptionsRequest{
			HttpTokens:              ltHTTPTokens,
			HttpPutResponseHopLimit: aws.Int32(ltHopLimit),
			HttpEndpoint:            ltHTTPEndpoint,
		},
		BlockDeviceMappings: []ec2types.LaunchTemplateBlockDeviceMappingRequest{{
			DeviceName: aws.String(r.rootDevice()),
			Ebs: &ec2types.LaunchTemplateEbsBlockDeviceRequest{
				VolumeType:          ec2types.VolumeType(r.volumeType()),
				Encrypted:           aws.Bool(r.RootVolumeEncrypted),
				DeleteOnTermination: aws.Bool(true),
			},
		}},
	}
	if r.RootVolumeSize > 0 {
		data.BlockDeviceMappings[0].Ebs.VolumeSize = aws.Int32(r.RootVolumeSize)
	}
	for _, sg := range r.SecurityGroups {
		id := engine.ResolveID(refs, sg)
		if id == "" {
			return nil, fmt.Errorf("security group %s not created yet", sg)
		}
		data.SecurityGroupIds = append(data.SecurityGroupIds, id)
	}
	if !r.InstanceProfile.IsZero() {
		name := engine.ResolveID(refs, r.InstanceProfile)
		if name == "" {
			return nil, fmt.Errorf("instance profile %s not created yet", r.InstanceProfile)
		}
		data.IamInstanceProfile = &ec2types.LaunchTemplateIamInstanceProfileSpecificationRequest{Name: aws.String(name)}
	}
	if !r.KeyPair.IsZero() {
		name := engine.ResolveID(refs, r.KeyPair)
		if name == "" {
			return nil, fmt.Errorf("key pair %s not created yet", r.KeyPair)
		}
		data.KeyName = aws.String(name)
	}
	if r.UserData != "" {
		data.UserData = aws.String(base64.StdEncoding.EncodeToString([]byte(r.UserData)))
	}
	if r.SpotMaxPrice != "" {
		data.InstanceMarketOptions = &ec2types.LaunchTemplateInstanceMarketOptionsRequest{
			MarketType:  ec2types.MarketTypeSpot,
			SpotOptions: &ec2types.LaunchTemplateSpotMarketOptionsRequest{MaxPrice: aws.String(r.SpotMaxPrice)},
		}
	}
	if len(r.InstanceTags) > 0 {
		for _, rt := range []ec2types.ResourceType{ec2types.ResourceTypeInstance, ec2types.ResourceTypeVolume} {
			data.TagSpecifications = append(data.TagSpecifications, ec2types.LaunchTemplateTagSpecificationRequest{
				ResourceType: rt, Tags: ec2Tags(r.InstanceTags),
			})
		}
	}
	return data, nil
}

// actualFrom is what a template holds after kapstan wrote data to it.
func (r *LaunchTemplate) actualFrom(id string, version int64, refs engine.Refs) *LaunchTemplate {
	a := *r
	a.ID = id
	a.Version = version
	a.Tags = maps.Clone(r.Tags)
	a.RootDeviceName = r.rootDevice()
	a.RootVolumeType = r.volumeType()
	a.SecurityGroups = nil
	for _, sg := range r.SecurityGroups {
		a.SecurityGroups = append(a.SecurityGroups, engine.Ref{Addr: sg.Addr, ID: engine.ResolveID(refs, sg)})
	}
	a.InstanceProfile = computeActualRef(engine.ResolveID(refs, r.InstanceProfile), r.InstanceProfile, refs)
	a.KeyPair = computeActualRef(engine.ResolveID(refs, r.KeyPair), r.KeyPair, refs)
	a.httpTokens, a.hopLimit, a.httpEndpoint = ltHTTPTokens, ltHopLimit, ltHTTPEndpoint
	a.newVersionPlanned = false
	return &a
}

func (r *LaunchTemplate) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	data, err := r.data(refs)
	if err != nil {
		return nil, fmt.Errorf("creating launch template %s: %w", r.Name, err)
	}
	out, err := c.EC2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String(r.TemplateName),
		LaunchTemplateData: data,
		TagSpecifications:  ec2TagSpec(ec2types.ResourceTypeLaunchTemplate, r.Tags),
	})
	if err != nil {
		return nil, fmt.Errorf("creating launch template %s: %w", r.Name, err)
	}
	return r.actualFrom(aws.ToString(out.LaunchTemplate.LaunchTemplateId), aws.ToInt64(out.LaunchTemplate.LatestVersionNumber), refs), nil
}

// update makes a new version holding the whole desired data and makes it
// the default, so that instances launched outside the Auto Scaling group
// (by hand, with the template's default) match too. Tags change in place.
func (r *LaunchTemplate) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	a := actual.(*LaunchTemplate)
	version := a.Version
	if slices.ContainsFunc(diffs, ltMakesVersion) {
		data, err := r.data(refs)
		if err != nil {
			return nil, fmt.Errorf("updating launch template %s: %w", r.Name, err)
		}
		out, err := c.EC2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
			LaunchTemplateId:   aws.String(a.ID),
			LaunchTemplateData: data,
			VersionDescription: aws.String(computeDiffSummary(diffs, ltMakesVersion)),
		})
		if err != nil {
			return nil, fmt.Errorf("updating launch template %s: new version: %w", r.Name, err)
		}
		version = aws.ToInt64(out.LaunchTemplateVersion.VersionNumber)
		if _, err := c.EC2.ModifyLaunchTemplate(ctx, &ec2.ModifyLaunchTemplateInput{
			LaunchTemplateId: aws.String(a.ID),
			DefaultVersion:   aws.String(strconv.FormatInt(version, 10)),
		}); err != nil {
			return nil, fmt.Errorf("updating launch template %s: default version %d: %w", r.Name, version, err)
		}
	}
	if add := tagsToAdd(a.Tags, r.Tags); len(add) > 0 {
		if _, err := c.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{a.ID}, Tags: ec2Tags(add)}); err != nil {
			return nil, fmt.Errorf("tagging launch template %s: %w", r.Name, err)
		}
	}
	return r.actualFrom(a.ID, version, refs), nil
}

func (r *LaunchTemplate) delete(ctx context.Context, c *Cloud) error {
	_, err := c.EC2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: aws.String(r.ID)})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("deleting launch template %s: %w", r.Name, err)
	}
	return nil
}

func (c *Cloud) ownedLaunchTemplates(ctx context.Context) ([]engine.Resource, error) {
	all, err := launchTemplates(ctx, c)
	if err != nil {
		return nil, err
	}
	var out []engine.Resource
	for _, addr := range computeSortedAddrs(all.byAddr) {
		a := *all.byAddr[addr]
		out = append(out, &a)
	}
	return out, nil
}

// computeDigest shows a script by its hash: plans stay short, and a plan
// file does not carry secrets a boot script may hold.
func computeDigest(s string) string {
	if s == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])[:12]
}

// computeDiffSummary lists the paths of the diffs keep selects, for a
// version's description.
func computeDiffSummary(diffs []engine.FieldDiff, keep func(engine.FieldDiff) bool) string {
	var paths []string
	for _, f := range diffs {
		if keep(f) {
			paths = append(paths, f.Path)
		}
	}
	s := "kapstan: " + strings.Join(paths, ", ")
	if len(s) > 255 { // AWS's limit for a description
		s = s[:252] + "..."
	}
	return s
}

// computeExactTags compares two tag sets that kapstan writes whole: keys
// missing on either side are differences.
func computeExactTags(d *engine.Differ, path string, before, after Tags) {
	keys := slices.Sorted(maps.Keys(before))
	for k := range after {
		if _, ok := before[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		d.String(path+"["+k+"]", before[k], after[k])
	}
}

// computeIDs returns the ids of refs.
func computeIDs(refs []engine.Ref) []string {
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		out = append(out, r.ID)
	}
	return out
}

// computeWantIDs resolves desired refs for a set comparison; one not
// created yet shows as "(ADDRESS, known after apply)", which differs from
// every id.
func computeWantIDs(desired []engine.Ref, refs engine.Refs) []string {
	out := make([]string, 0, len(desired))
	for _, r := range desired {
		out = append(out, computeWant(r, refs))
	}
	return out
}

func computeWant(r engine.Ref, refs engine.Refs) string {
	if id := engine.ResolveID(refs, r); id != "" {
		return id
	}
	if r.IsZero() {
		return ""
	}
	return "(" + r.String() + ", known after apply)"
}

// computeRefDiff is Differ.Ref for optional references: a zero desired
// ref means none, not "known after apply".
func computeRefDiff(d *engine.Differ, path, actualID string, desired engine.Ref, refs engine.Refs) {
	d.String(path, actualID, computeWant(desired, refs))
}

// computeActualRef gives an id read from AWS the address of the desired
// ref it matches, so that the actual resource names its dependencies.
func computeActualRef(id string, desired engine.Ref, refs engine.Refs) engine.Ref {
	if id == "" {
		return engine.Ref{}
	}
	if !desired.Addr.IsZero() && engine.ResolveID(refs, desired) == id {
		return engine.Ref{Addr: desired.Addr, ID: id}
	}
	return engine.RefID(id)
}

// computeActualRefs does computeActualRef for a list, falling back to
// index (id → address) for ids no desired ref names.
func computeActualRefs(ids []string, desired []engine.Ref, refs engine.Refs, index map[string]engine.Address) []engine.Ref {
	byID := map[string]engine.Address{}
	for _, d := range desired {
		if id := engine.ResolveID(refs, d); id != "" && !d.Addr.IsZero() {
			byID[id] = d.Addr
		}
	}
	var out []engine.Ref
	for _, id := range ids {
		addr, ok := byID[id]
		if !ok {
			addr = index[id]
		}
		out = append(out, engine.Ref{Addr: addr, ID: id})
	}
	return out
}

// computeSortedAddrs returns a map's addresses in order, so that orphans
// come out the same way every run.
func computeSortedAddrs[T any](m map[engine.Address]T) []engine.Address {
	return slices.SortedFunc(maps.Keys(m), func(a, b engine.Address) int {
		return strings.Compare(a.String(), b.String())
	})
}

// computeEC2Addresses names, by their kapstan.io/address tags, the EC2
// resources (subnets, security groups, VPCs) that the cluster's Auto
// Scaling groups, load balancers and target groups refer to. Orphans need
// it: a deleted group or load balancer must go before the subnets and
// security groups its instances and interfaces sit in, and the engine
// orders deletes by the addresses an actual resource depends on. It costs
// no call of its own: it joins the indexes of the plan's cached reads of
// VPCs, subnets and security groups.
func computeEC2Addresses(ctx context.Context, c *Cloud) (map[string]engine.Address, error) {
	return cached(ctx, c, "compute:ec2Addresses", func(ctx context.Context) (map[string]engine.Address, error) {
		out := map[string]engine.Address{}
		vpcs, err := c.networkVPCIndex(ctx)
		if err != nil {
			return nil, err
		}
		subnets, err := c.networkSubnetIndex(ctx)
		if err != nil {
			return nil, err
		}
		groups, err := c.securitySGs(ctx)
		if err != nil {
			return nil, err
		}
		for _, index := range []map[string]engine.Address{vpcs, subnets, securityGroupIndex(groups)} {
			for id, a := range index {
				out[id] = a
			}
		}
		return out, nil
	})
}
