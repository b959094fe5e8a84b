package v1alpha1

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/version"
)

// The Kubernetes versions kapstan can install: MinKubernetesVersion up to,
// but not including, MaxKubernetesVersion.
const (
	MinKubernetesVersion = "1.33.0"
	MaxKubernetesVersion = "1.38.0"
)

var (
	zonePattern        = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+[a-z]$`)
	machineTypePattern = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9]+$`)
	vpcIDPattern       = regexp.MustCompile(`^vpc-[0-9a-f]+$`)
	subnetIDPattern    = regexp.MustCompile(`^subnet-[0-9a-f]+$`)
	natIDPattern       = regexp.MustCompile(`^nat-[0-9a-f]+$`)
)

// InvalidError is returned when manifests fail validation. It says which
// object failed and lists every problem with its field path.
type InvalidError struct {
	// Object names the object, e.g. `InstanceGroup "nodes"`.
	Object string
	Errs   field.ErrorList
}

func (e *InvalidError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is invalid:", e.Object)
	for _, err := range e.Errs {
		b.WriteString("\n  * ")
		b.WriteString(err.Error())
	}
	return b.String()
}

// Validate checks manifests as a whole: each object alone, then the
// references between them. It returns nil or an error joining one
// *InvalidError per invalid object.
func Validate(m *Manifests) error {
	if m.Cluster == nil {
		return errors.New("no Cluster in the manifests")
	}
	var errs []error
	if el := validateCluster(m); len(el) > 0 {
		errs = append(errs, &InvalidError{Object: fmt.Sprintf("Cluster %q", m.Cluster.Metadata.Name), Errs: el})
	}
	seen := map[string]bool{}
	for _, ig := range m.InstanceGroups {
		el := validateInstanceGroup(m.Cluster, ig)
		if seen[ig.Metadata.Name] {
			el = append(el, field.Duplicate(field.NewPath("metadata", "name"), ig.Metadata.Name))
		}
		seen[ig.Metadata.Name] = true
		if len(el) > 0 {
			errs = append(errs, &InvalidError{Object: fmt.Sprintf("InstanceGroup %q", ig.Metadata.Name), Errs: el})
		}
	}
	return errors.Join(errs...)
}

func validateCluster(m *Manifests) field.ErrorList {
	c := m.Cluster
	var el field.ErrorList
	meta := field.NewPath("metadata")
	el = append(el, validateClusterName(meta.Child("name"), c.Metadata.Name)...)
	spec := field.NewPath("spec")
	s := &c.Spec

	el = append(el, validateKubernetesVersion(spec.Child("kubernetesVersion"), s.KubernetesVersion)...)
	if s.Cloud != "aws" {
		el = append(el, field.NotSupported(spec.Child("cloud"), s.Cloud, []string{"aws"}))
	}
	el = append(el, validateZones(spec, s)...)

	var network netip.Prefix
	if s.NetworkCIDR != "" || s.NetworkID == "" { // an existing VPC's range may be left to the cloud
		var netErrs field.ErrorList
		network, netErrs = parsePrefix(spec.Child("networkCIDR"), s.NetworkCIDR, true)
		el = append(el, netErrs...)
	}
	if network.IsValid() && (!network.Addr().Is4() || network.Bits() < 16 || network.Bits() > 28) {
		el = append(el, field.Invalid(spec.Child("networkCIDR"), s.NetworkCIDR, "must be an IPv4 range between /16 and /28, as AWS requires for a VPC"))
		network = netip.Prefix{}
	}
	if s.NetworkID != "" && !vpcIDPattern.MatchString(s.NetworkID) {
		el = append(el, field.Invalid(spec.Child("networkID"), s.NetworkID, "must be a VPC id (vpc-…)"))
	}
	el = append(el, validateSubnets(spec, s, network)...)
	el = append(el, validateTopology(spec.Child("topology"), s)...)
	el = append(el, validateAPI(c)...)
	el = append(el, validateEtcd(spec.Child("etcdClusters"), m)...)
	if !slices.Contains(SupportedCNIs(), s.Networking.CNI) {
		el = append(el, field.NotSupported(spec.Child("networking", "cni"), s.Networking.CNI, SupportedCNIs()))
	}
	el = append(el, validateAccessCIDRs(spec.Child("sshAccess"), s.SSHAccess)...)
	el = append(el, validateAccessCIDRs(spec.Child("kubernetesAPIAccess"), s.KubernetesAPIAccess)...)
	if s.SSHPublicKey != "" {
		if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s.SSHPublicKey)); err != nil {
			el = append(el, field.Invalid(spec.Child("sshPublicKey"), truncate(s.SSHPublicKey, 24), "not an OpenSSH public key: "+err.Error()))
		}
	}
	el = append(el, validateCloudLabels(spec.Child("cloudLabels"), s.CloudLabels)...)

	services, svcErrs := parsePrefix(spec.Child("serviceClusterIPRange"), s.ServiceClusterIPRange, true)
	el = append(el, svcErrs...)
	pods, podErrs := parsePrefix(spec.Child("podCIDR"), s.PodCIDR, true)
	el = append(el, podErrs...)
	if services.IsValid() && pods.IsValid() && services.Overlaps(pods) {
		el = append(el, field.Invalid(spec.Child("podCIDR"), s.PodCIDR, "overlaps spec.serviceClusterIPRange"))
	}
	for _, p := range []struct {
		name   string
		prefix netip.Prefix
	}{{"serviceClusterIPRange", services}, {"podCIDR", pods}} {
		if p.prefix.IsValid() && network.IsValid() && p.prefix.Overlaps(network) {
			el = append(el, field.Invalid(spec.Child(p.name), p.prefix.String(), "overlaps spec.networkCIDR"))
		}
	}
	for _, msg := range validation.IsDNS1123Subdomain(s.ClusterDNSDomain) {
		el = append(el, field.Invalid(spec.Child("clusterDNSDomain"), s.ClusterDNSDomain, msg))
	}
	el = append(el, validateAddons(spec.Child("addons"), s.Addons)...)
	if s.Assets != nil {
		el = append(el, validateAssets(spec.Child("assets"), s.Assets)...)
	}
	return el
}

// imageRepositoryPattern is HOST[:PORT][/PATH] of a container registry,
// lower case as image references require, without scheme, tag or digest.
var imageRepositoryPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)*$`)

func validateAssets(p *field.Path, a *AssetsSpec) field.ErrorList {
	var el field.ErrorList
	if a.FileRepository != "" {
		if msg := checkFileRepository(a.FileRepository); msg != "" {
			el = append(el, field.Invalid(p.Child("fileRepository"), a.FileRepository, msg))
		}
	}
	if a.ImageRepository != "" && !imageRepositoryPattern.MatchString(a.ImageRepository) {
		el = append(el, field.Invalid(p.Child("imageRepository"), a.ImageRepository,
			"must be a registry HOST[:PORT][/PATH] in lower case, without scheme, tag or digest, e.g. registry.example.com:5000/k8s"))
	}
	return el
}

// checkFileRepository says what is wrong with a file repository URL, or "".
func checkFileRepository(repo string) string {
	scheme, rest, ok := strings.Cut(repo, "://")
	if !ok {
		return "must be a URL: s3://BUCKET/PREFIX, https://HOST/PATH or file:///DIR"
	}
	if strings.ContainsAny(rest, "?#") {
		return "must not have a query or fragment"
	}
	switch scheme {
	case "s3", "https":
		host, _, _ := strings.Cut(rest, "/")
		if host == "" {
			return fmt.Sprintf("%s:// needs a %s", scheme, map[string]string{"s3": "bucket", "https": "host"}[scheme])
		}
	case "file":
		if !strings.HasPrefix(rest, "/") || strings.Trim(rest, "/") == "" {
			return "file:// needs an absolute folder, e.g. file:///srv/mirror"
		}
	default:
		return fmt.Sprintf("scheme %q is not supported: use s3://, https:// or file://", scheme)
	}
	for seg := range strings.SplitSeq(strings.Trim(rest, "/"), "/") {
		if seg == "." || seg == ".." || (seg == "" && scheme != "file") {
			return "must not have empty, . or .. path segments"
		}
	}
	return ""
}

func validateAddons(p *field.Path, addons []AddonSpec) field.ErrorList {
	var el field.ErrorList
	seen := map[string]bool{}
	for i, a := range addons {
		ap := p.Index(i)
		switch msgs := validation.IsDNS1123Label(a.Name); {
		case a.Name == "":
			el = append(el, field.Required(ap.Child("name"), "a DNS label naming the add-on"))
		case len(msgs) > 0:
			el = append(el, field.Invalid(ap.Child("name"), a.Name, strings.Join(msgs, "; ")))
		case slices.Contains(BuiltinAddons(), a.Name):
			el = append(el, field.Invalid(ap.Child("name"), a.Name, "is the name of one of kapstan's own add-ons"))
		case seen[a.Name]:
			el = append(el, field.Duplicate(ap.Child("name"), a.Name))
		}
		seen[a.Name] = true
		mp := ap.Child("manifest")
		key, inStore := strings.CutPrefix(a.Manifest, StoreManifestPrefix)
		switch {
		case a.Manifest == "":
			el = append(el, field.Required(mp, "a file path, or store:KEY for an object in the state store"))
		case inStore && !validStoreKey(key):
			el = append(el, field.Invalid(mp, a.Manifest, "store:KEY needs a relative key of non-empty segments, without . or .."))
		}
	}
	return el
}

// validStoreKey is the shape of a state-store key: relative, slash
// separated, no empty, "." or ".." segment.
func validStoreKey(key string) bool {
	if key == "" || strings.ContainsAny(key, "\\\x00") {
		return false
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

func validateClusterName(p *field.Path, name string) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "the cluster's DNS name, e.g. demo.example.com or demo.k8s.local")}
	}
	var el field.ErrorList
	for _, msg := range validation.IsDNS1123Subdomain(name) {
		el = append(el, field.Invalid(p, name, msg))
	}
	if !strings.Contains(name, ".") {
		el = append(el, field.Invalid(p, name, "must be a fully qualified DNS name with at least one dot (use NAME.k8s.local for a cluster without DNS)"))
	}
	return el
}

func validateKubernetesVersion(p *field.Path, v string) field.ErrorList {
	if v == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	parsed, err := version.ParseSemantic(strings.TrimPrefix(v, "v"))
	if err != nil {
		return field.ErrorList{field.Invalid(p, v, "not a semantic version: "+err.Error())}
	}
	if parsed.LessThan(version.MustParseSemantic(MinKubernetesVersion)) || !parsed.LessThan(version.MustParseSemantic(MaxKubernetesVersion)) {
		return field.ErrorList{field.Invalid(p, v, fmt.Sprintf("kapstan supports Kubernetes %s up to (not including) %s", MinKubernetesVersion, MaxKubernetesVersion))}
	}
	return nil
}

func validateZones(spec *field.Path, s *ClusterSpec) field.ErrorList {
	var el field.ErrorList
	p := spec.Child("zones")
	if len(s.Zones) == 0 {
		el = append(el, field.Required(p, "at least one availability zone"))
	}
	seen := map[string]bool{}
	for i, z := range s.Zones {
		switch {
		case !zonePattern.MatchString(z):
			el = append(el, field.Invalid(p.Index(i), z, "not an availability zone name (e.g. us-east-1a)"))
		case seen[z]:
			el = append(el, field.Duplicate(p.Index(i), z))
		case RegionOfZone(z) != s.Region:
			el = append(el, field.Invalid(p.Index(i), z, fmt.Sprintf("is not in region %s (spec.region)", s.Region)))
		}
		seen[z] = true
	}
	return el
}

func validateSubnets(spec *field.Path, s *ClusterSpec, network netip.Prefix) field.ErrorList {
	var el field.ErrorList
	p := spec.Child("subnets")
	if len(s.Subnets) == 0 {
		el = append(el, field.Required(p, "at least one subnet"))
	}
	names := map[string]int{}
	parsed := make([]netip.Prefix, len(s.Subnets))
	types := []string{string(SubnetTypePublic), string(SubnetTypePrivate), string(SubnetTypeUtility)}
	for i, sn := range s.Subnets {
		sp := p.Index(i)
		for _, msg := range validation.IsDNS1123Label(sn.Name) {
			el = append(el, field.Invalid(sp.Child("name"), sn.Name, msg))
		}
		if j, dup := names[sn.Name]; dup {
			el = append(el, field.Invalid(sp.Child("name"), sn.Name, fmt.Sprintf("duplicates spec.subnets[%d].name", j)))
		} else {
			names[sn.Name] = i
		}
		if !slices.Contains(s.Zones, sn.Zone) {
			el = append(el, field.Invalid(sp.Child("zone"), sn.Zone, "is not one of spec.zones"))
		}
		if !slices.Contains(types, string(sn.Type)) {
			el = append(el, field.NotSupported(sp.Child("type"), sn.Type, types))
		}
		var prefix netip.Prefix
		if sn.CIDR != "" || sn.ID == "" { // an existing subnet's range may be left to the cloud
			var perrs field.ErrorList
			prefix, perrs = parsePrefix(sp.Child("cidr"), sn.CIDR, true)
			el = append(el, perrs...)
		}
		if prefix.IsValid() && network.IsValid() && !contains(network, prefix) {
			el = append(el, field.Invalid(sp.Child("cidr"), sn.CIDR, fmt.Sprintf("is not inside spec.networkCIDR %s", network)))
		}
		if prefix.IsValid() {
			for j := 0; j < i; j++ {
				if parsed[j].IsValid() && parsed[j].Overlaps(prefix) {
					el = append(el, field.Invalid(sp.Child("cidr"), sn.CIDR, fmt.Sprintf("overlaps spec.subnets[%d]", j)))
					break
				}
			}
		}
		parsed[i] = prefix
		switch {
		case s.NetworkID != "" && sn.ID == "":
			el = append(el, field.Required(sp.Child("id"), "an existing VPC (spec.networkID) needs the id of each of its subnets"))
		case sn.ID != "" && s.NetworkID == "":
			el = append(el, field.Invalid(sp.Child("id"), sn.ID, "an existing subnet needs its VPC in spec.networkID"))
		case sn.ID != "" && !subnetIDPattern.MatchString(sn.ID):
			el = append(el, field.Invalid(sp.Child("id"), sn.ID, "must be a subnet id (subnet-…)"))
		}
		if sn.Egress != "" {
			if sn.Type != SubnetTypePrivate {
				el = append(el, field.Invalid(sp.Child("egress"), sn.Egress, "only private subnets route through a NAT gateway"))
			} else if !natIDPattern.MatchString(sn.Egress) {
				el = append(el, field.Invalid(sp.Child("egress"), sn.Egress, "must be a NAT gateway id (nat-…)"))
			}
		}
	}
	// Every zone needs the subnets its topology places machines and load
	// balancers in.
	need := []SubnetType{SubnetTypePublic}
	if s.Topology.ControlPlane == TopologyPrivate || s.Topology.Nodes == TopologyPrivate {
		need = []SubnetType{SubnetTypePrivate, SubnetTypeUtility}
	}
	for i, z := range s.Zones {
		for _, t := range need {
			if !slices.ContainsFunc(s.Subnets, func(sn ClusterSubnet) bool { return sn.Zone == z && sn.Type == t }) {
				el = append(el, field.Invalid(spec.Child("zones").Index(i), z, fmt.Sprintf("has no %s subnet, which %s topology needs", t, topologyWord(s))))
			}
		}
	}
	return el
}

func topologyWord(s *ClusterSpec) string {
	if s.Topology.ControlPlane == TopologyPrivate || s.Topology.Nodes == TopologyPrivate {
		return "a private"
	}
	return "a public"
}

func validateTopology(p *field.Path, s *ClusterSpec) field.ErrorList {
	var el field.ErrorList
	values := []string{string(TopologyPublic), string(TopologyPrivate)}
	if !slices.Contains(values, string(s.Topology.ControlPlane)) {
		el = append(el, field.NotSupported(p.Child("controlPlane"), s.Topology.ControlPlane, values))
	}
	if !slices.Contains(values, string(s.Topology.Nodes)) {
		el = append(el, field.NotSupported(p.Child("nodes"), s.Topology.Nodes, values))
	}
	if s.Topology.Bastion && s.Topology.ControlPlane != TopologyPrivate && s.Topology.Nodes != TopologyPrivate {
		el = append(el, field.Invalid(p.Child("bastion"), true, "a bastion needs a private topology; public instances are reached directly"))
	}
	return el
}

func validateAPI(c *Cluster) field.ErrorList {
	var el field.ErrorList
	spec := field.NewPath("spec")
	s := &c.Spec
	types := []string{string(LoadBalancerPublic), string(LoadBalancerInternal)}
	if !slices.Contains(types, string(s.API.LoadBalancerType)) {
		el = append(el, field.NotSupported(spec.Child("api", "loadBalancerType"), s.API.LoadBalancerType, types))
	}
	if s.API.DNSName != "" {
		for _, msg := range validation.IsDNS1123Subdomain(s.API.DNSName) {
			el = append(el, field.Invalid(spec.Child("api", "dnsName"), s.API.DNSName, msg))
		}
	}
	name := c.Metadata.Name
	switch {
	case IsGossip(name) && s.DNSZone != "":
		el = append(el, field.Forbidden(spec.Child("dnsZone"), fmt.Sprintf("a cluster named *%s uses no DNS zone", GossipSuffix)))
	case IsGossip(name) && s.API.DNSName != "":
		el = append(el, field.Forbidden(spec.Child("api", "dnsName"), fmt.Sprintf("a cluster named *%s is reached through its load balancer's name", GossipSuffix)))
	case !IsGossip(name) && s.DNSZone == "":
		el = append(el, field.Required(spec.Child("dnsZone"), fmt.Sprintf("the Route 53 zone for the API records (or name the cluster *%s)", GossipSuffix)))
	case !IsGossip(name) && name != s.DNSZone && !strings.HasSuffix(name, "."+s.DNSZone):
		el = append(el, field.Invalid(spec.Child("dnsZone"), s.DNSZone, fmt.Sprintf("cluster name %s is not inside this zone", name)))
	}
	return el
}

func validateEtcd(p *field.Path, m *Manifests) field.ErrorList {
	var el field.ErrorList
	clusters := m.Cluster.Spec.EtcdClusters
	if len(clusters) == 0 {
		return field.ErrorList{field.Required(p, "the main and events etcd clusters (give the cluster a ControlPlane instance group to default them)")}
	}
	seen := map[string]bool{}
	for i, ec := range clusters {
		ep := p.Index(i)
		if ec.Name != "main" && ec.Name != "events" {
			el = append(el, field.NotSupported(ep.Child("name"), ec.Name, []string{"main", "events"}))
		}
		if seen[ec.Name] {
			el = append(el, field.Duplicate(ep.Child("name"), ec.Name))
		}
		seen[ec.Name] = true
		if len(ec.Members)%2 == 0 {
			el = append(el, field.Invalid(ep.Child("members"), len(ec.Members), "etcd needs an odd number of members to keep quorum"))
		}
		memberNames, memberIGs := map[string]bool{}, map[string]bool{}
		for j, mem := range ec.Members {
			mp := ep.Child("members").Index(j)
			for _, msg := range validation.IsDNS1123Label(mem.Name) {
				el = append(el, field.Invalid(mp.Child("name"), mem.Name, msg))
			}
			if memberNames[mem.Name] {
				el = append(el, field.Duplicate(mp.Child("name"), mem.Name))
			}
			memberNames[mem.Name] = true
			ig := m.InstanceGroup(mem.InstanceGroup)
			switch {
			case ig == nil:
				el = append(el, field.NotFound(mp.Child("instanceGroup"), mem.InstanceGroup))
			case ig.Spec.Role != RoleControlPlane:
				el = append(el, field.Invalid(mp.Child("instanceGroup"), mem.InstanceGroup, fmt.Sprintf("has role %s; etcd runs on ControlPlane instance groups", ig.Spec.Role)))
			case memberIGs[mem.InstanceGroup]:
				el = append(el, field.Invalid(mp.Child("instanceGroup"), mem.InstanceGroup, "runs another member of this etcd cluster already"))
			}
			memberIGs[mem.InstanceGroup] = true
			el = append(el, validateVolume(mp, "volumeType", mem.VolumeType, "volumeSize", mem.VolumeSize)...)
		}
	}
	for _, name := range []string{"main", "events"} {
		if !seen[name] {
			el = append(el, field.Required(p, fmt.Sprintf("an etcd cluster named %q", name)))
		}
	}
	return el
}

func validateVolume(p *field.Path, typeField, volumeType, sizeField string, size int32) field.ErrorList {
	var el field.ErrorList
	types := []string{"gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"}
	if !slices.Contains(types, volumeType) {
		el = append(el, field.NotSupported(p.Child(typeField), volumeType, types))
	}
	if size < 1 || size > 16384 {
		el = append(el, field.Invalid(p.Child(sizeField), size, "must be between 1 and 16384 GiB"))
	}
	return el
}

func validateAccessCIDRs(p *field.Path, cidrs []string) field.ErrorList {
	var el field.ErrorList
	for i, c := range cidrs {
		_, errs := parsePrefix(p.Index(i), c, false)
		el = append(el, errs...)
	}
	return el
}

func validateCloudLabels(p *field.Path, labels map[string]string) field.ErrorList {
	var el field.ErrorList
	for _, k := range sortedKeys(labels) {
		switch {
		case k == "" || len(k) > 128:
			el = append(el, field.Invalid(p.Key(k), k, "a tag key is 1 to 128 characters"))
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			el = append(el, field.Invalid(p.Key(k), k, "tag keys starting with aws: are reserved by AWS"))
		case k == "KubernetesCluster" || strings.HasPrefix(k, "kubernetes.io/cluster/"):
			el = append(el, field.Invalid(p.Key(k), k, "kapstan sets this tag itself"))
		case len(labels[k]) > 256:
			el = append(el, field.TooLong(p.Key(k), labels[k], 256))
		}
	}
	return el
}

func validateInstanceGroup(c *Cluster, ig *InstanceGroup) field.ErrorList {
	var el field.ErrorList
	name := ig.Metadata.Name
	if name == "" {
		el = append(el, field.Required(field.NewPath("metadata", "name"), ""))
	}
	for _, msg := range validation.IsDNS1123Label(name) {
		el = append(el, field.Invalid(field.NewPath("metadata", "name"), name, msg))
	}
	spec := field.NewPath("spec")
	s := &ig.Spec
	roles := []string{string(RoleControlPlane), string(RoleNode), string(RoleBastion)}
	if !slices.Contains(roles, string(s.Role)) {
		el = append(el, field.NotSupported(spec.Child("role"), s.Role, roles))
	}
	if s.Image == "" {
		el = append(el, field.Required(spec.Child("image"), "an AMI id, owner/name, or ssm:/parameter"))
	}
	if !machineTypePattern.MatchString(s.MachineType) {
		el = append(el, field.Invalid(spec.Child("machineType"), s.MachineType, "not an instance type (e.g. t3.medium)"))
	}
	if s.MinSize < 0 {
		el = append(el, field.Invalid(spec.Child("minSize"), s.MinSize, "must not be negative"))
	}
	if s.MaxSize < s.MinSize {
		el = append(el, field.Invalid(spec.Child("maxSize"), s.MaxSize, fmt.Sprintf("must be at least spec.minSize (%d)", s.MinSize)))
	}
	el = append(el, validateIGSubnets(spec.Child("subnets"), c, ig)...)
	el = append(el, validateVolume(spec.Child("rootVolume"), "type", s.RootVolume.Type, "size", s.RootVolume.Size)...)
	for _, k := range sortedKeys(s.NodeLabels) {
		for _, msg := range validation.IsQualifiedName(k) {
			el = append(el, field.Invalid(spec.Child("nodeLabels").Key(k), k, msg))
		}
		for _, msg := range validation.IsValidLabelValue(s.NodeLabels[k]) {
			el = append(el, field.Invalid(spec.Child("nodeLabels").Key(k), s.NodeLabels[k], msg))
		}
	}
	for i, t := range s.Taints {
		if err := validateTaint(t); err != "" {
			el = append(el, field.Invalid(spec.Child("taints").Index(i), t, err))
		}
	}
	el = append(el, validateCloudLabels(spec.Child("cloudLabels"), s.CloudLabels)...)
	if mip := s.MixedInstancesPolicy; mip != nil {
		mp := spec.Child("mixedInstancesPolicy")
		if len(mip.Instances) == 0 {
			el = append(el, field.Required(mp.Child("instances"), "at least one instance type"))
		}
		for i, it := range mip.Instances {
			if !machineTypePattern.MatchString(it) {
				el = append(el, field.Invalid(mp.Child("instances").Index(i), it, "not an instance type"))
			}
		}
		if mip.OnDemandBase != nil && *mip.OnDemandBase < 0 {
			el = append(el, field.Invalid(mp.Child("onDemandBase"), *mip.OnDemandBase, "must not be negative"))
		}
		if mip.OnDemandAboveBase != nil && (*mip.OnDemandAboveBase < 0 || *mip.OnDemandAboveBase > 100) {
			el = append(el, field.Invalid(mp.Child("onDemandAboveBase"), *mip.OnDemandAboveBase, "is a percentage, 0 to 100"))
		}
		if mip.SpotAllocationStrategy != "" && !slices.Contains(SpotAllocationStrategies(), mip.SpotAllocationStrategy) {
			el = append(el, field.NotSupported(mp.Child("spotAllocationStrategy"), mip.SpotAllocationStrategy, SpotAllocationStrategies()))
		}
	}
	if s.MaxPrice != "" {
		if f, err := strconv.ParseFloat(s.MaxPrice, 64); err != nil || f <= 0 {
			el = append(el, field.Invalid(spec.Child("maxPrice"), s.MaxPrice, "must be a positive hourly price in USD, e.g. \"0.05\""))
		}
	}
	if ru := s.RollingUpdate; ru != nil {
		rp := spec.Child("rollingUpdate")
		el = append(el, validateIntOrPercent(rp.Child("maxSurge"), ru.MaxSurge)...)
		el = append(el, validateIntOrPercent(rp.Child("maxUnavailable"), ru.MaxUnavailable)...)
		if isZero(ru.MaxSurge) && isZero(ru.MaxUnavailable) && ru.MaxSurge != nil && ru.MaxUnavailable != nil {
			el = append(el, field.Invalid(rp, "0/0", "maxSurge and maxUnavailable cannot both be zero: nothing could be replaced"))
		}
	}
	return el
}

func validateIGSubnets(p *field.Path, c *Cluster, ig *InstanceGroup) field.ErrorList {
	var el field.ErrorList
	if len(ig.Spec.Subnets) == 0 {
		return field.ErrorList{field.Required(p, "at least one of the cluster's subnets")}
	}
	for i, name := range ig.Spec.Subnets {
		idx := slices.IndexFunc(c.Spec.Subnets, func(sn ClusterSubnet) bool { return sn.Name == name })
		if idx < 0 {
			el = append(el, field.NotFound(p.Index(i), name))
			continue
		}
		t := c.Spec.Subnets[idx].Type
		switch {
		case ig.Spec.Role == RoleBastion && t == SubnetTypePrivate:
			el = append(el, field.Invalid(p.Index(i), name, "a bastion belongs in a utility or public subnet, where it can be reached"))
		case ig.Spec.Role != RoleBastion && t == SubnetTypeUtility:
			el = append(el, field.Invalid(p.Index(i), name, "utility subnets hold load balancers, NAT gateways and bastions, not "+string(ig.Spec.Role)+" instances"))
		}
	}
	return el
}

func validateTaint(t string) string {
	kv, effect, ok := strings.Cut(t, ":")
	if !ok {
		return "must be key[=value]:Effect"
	}
	if !slices.Contains([]string{"NoSchedule", "PreferNoSchedule", "NoExecute"}, effect) {
		return "effect must be NoSchedule, PreferNoSchedule or NoExecute"
	}
	key, value, _ := strings.Cut(kv, "=")
	if msgs := validation.IsQualifiedName(key); len(msgs) > 0 {
		return "key: " + msgs[0]
	}
	if msgs := validation.IsValidLabelValue(value); len(msgs) > 0 {
		return "value: " + msgs[0]
	}
	return ""
}

func validateIntOrPercent(p *field.Path, v *intstr.IntOrString) field.ErrorList {
	if v == nil {
		return nil
	}
	if v.Type == intstr.Int {
		if v.IntVal < 0 {
			return field.ErrorList{field.Invalid(p, v.IntVal, "must not be negative")}
		}
		return nil
	}
	n, err := strconv.Atoi(strings.TrimSuffix(v.StrVal, "%"))
	if !strings.HasSuffix(v.StrVal, "%") || err != nil || n < 0 || n > 100 {
		return field.ErrorList{field.Invalid(p, v.StrVal, "must be a count or a percentage such as 25%")}
	}
	return nil
}

func isZero(v *intstr.IntOrString) bool {
	return v != nil && ((v.Type == intstr.Int && v.IntVal == 0) || (v.Type == intstr.String && v.StrVal == "0%"))
}

// parsePrefix parses a CIDR. With canonical, the address must be the
// network's first address, as AWS requires ("10.0.0.1/24" is refused).
func parsePrefix(p *field.Path, s string, canonical bool) (netip.Prefix, field.ErrorList) {
	if s == "" {
		return netip.Prefix{}, field.ErrorList{field.Required(p, "a CIDR such as 10.0.0.0/16")}
	}
	prefix, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, field.ErrorList{field.Invalid(p, s, "not a CIDR")}
	}
	if canonical && prefix.Masked() != prefix {
		return netip.Prefix{}, field.ErrorList{field.Invalid(p, s, fmt.Sprintf("host bits are set; did you mean %s?", prefix.Masked()))}
	}
	return prefix, nil
}

// contains reports whether inner lies wholly inside outer.
func contains(outer, inner netip.Prefix) bool {
	return outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
