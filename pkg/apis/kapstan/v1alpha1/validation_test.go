package v1alpha1

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"
)

// load decodes, defaults and returns a testdata manifest.
func load(t *testing.T, name string) *Manifests {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(name, data)
	if err != nil {
		t.Fatalf("decoding %s: %v", name, err)
	}
	SetDefaults(m)
	return m
}

func TestValidManifests(t *testing.T) {
	for _, name := range []string{"public-3zone.yaml", "private-bastion.yaml", "existing-vpc.yaml"} {
		t.Run(name, func(t *testing.T) {
			if err := Validate(load(t, name)); err != nil {
				t.Fatalf("valid manifest refused: %v", err)
			}
		})
	}
}

func TestValidAssets(t *testing.T) {
	for _, a := range []AssetsSpec{
		{FileRepository: "s3://mirror"},
		{FileRepository: "s3://mirror/kapstan/assets/", ImageRepository: "registry.example.com"},
		{FileRepository: "https://mirror.example.com/assets", ImageRepository: "registry.example.com:5000/k8s/mirror"},
		{FileRepository: "file:///srv/mirror"},
		{ImageRepository: "10.0.0.5:5000"},
	} {
		t.Run(a.FileRepository+" "+a.ImageRepository, func(t *testing.T) {
			m := load(t, "public-3zone.yaml")
			m.Cluster.Spec.Assets = &a
			if err := Validate(m); err != nil {
				t.Fatalf("valid assets refused: %v", err)
			}
		})
	}
}

func TestFileRepository(t *testing.T) {
	cases := []struct {
		name    string
		assets  *AssetsSpec
		store   string
		want    string
		wantErr string
	}{
		{"default in an s3 store", nil, "s3://state/clusters", "s3://state/clusters/demo.k8s.local/assets", ""},
		{"default in a bucket's root", nil, "s3://state", "s3://state/demo.k8s.local/assets", ""},
		{"default in a file store", nil, "file:///home/me/.config/kapstan/", "file:///home/me/.config/kapstan/demo.k8s.local/assets", ""},
		{"empty spec.assets", &AssetsSpec{ImageRepository: "registry.example.com"}, "s3://state", "s3://state/demo.k8s.local/assets", ""},
		{"set", &AssetsSpec{FileRepository: "s3://mirror/assets/"}, "s3://state", "s3://mirror/assets", ""},
		{"set, memory store", &AssetsSpec{FileRepository: "https://mirror.example.com"}, "memory://", "https://mirror.example.com", ""},
		{"no default for a memory store", nil, "memory://t", "", "state store memory://t gives no default"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &Cluster{Metadata: ObjectMeta{Name: "demo.k8s.local"}, Spec: ClusterSpec{Assets: tc.assets}}
			got, err := c.FileRepository(tc.store)
			switch {
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %q, %v; want an error saying %q", got, err, tc.wantErr)
			case tc.wantErr == "" && err != nil:
				t.Fatal(err)
			case got != tc.want:
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestValidationErrorsNameTheField(t *testing.T) {
	cases := []struct {
		name   string
		file   string
		mutate func(m *Manifests)
		want   string // a substring of the error, field path first
	}{
		{"overlapping subnets", "public-3zone.yaml", func(m *Manifests) {
			m.Cluster.Spec.Subnets[2].CIDR = "172.20.0.0/20"
		}, `spec.subnets[2].cidr: Invalid value: "172.20.0.0/20": overlaps spec.subnets[0]`},
		{"subnet outside the network", "public-3zone.yaml", func(m *Manifests) {
			m.Cluster.Spec.Subnets[1].CIDR = "10.0.0.0/24"
		}, `spec.subnets[1].cidr: Invalid value: "10.0.0.0/24": is not inside spec.networkCIDR`},
		{"host bits in a CIDR", "public-3zone.yaml", func(m *Manifests) {
			m.Cluster.Spec.NetworkCIDR = "172.20.0.1/16"
		}, `spec.networkCIDR: Invalid value: "172.20.0.1/16": host bits are set`},
		{"zone without its subnet", "public-3zone.yaml", func(m *Manifests) {
			m.Cluster.Spec.Subnets = m.Cluster.Spec.Subnets[:2]
		}, `spec.zones[2]: Invalid value: "us-east-1c": has no Public subnet`},
		{"subnet in an unknown zone", "public-3zone.yaml", func(m *Manifests) {
			m.Cluster.Spec.Subnets[0].Zone = "us-east-1f"
		}, `spec.subnets[0].zone: Invalid value: "us-east-1f": is not one of spec.zones`},
		{"zone of another region", "public-3zone.yaml", func(m *Manifests) {
			m.Cluster.Spec.Zones[1] = "eu-west-1b"
		}, `spec.zones[1]: Invalid value: "eu-west-1b": is not in region us-east-1`},
		{"bad cluster name", "public-3zone.yaml", func(m *Manifests) {
			m.Cluster.Metadata.Name = "Demo_Cluster"
		}, `metadata.name: Invalid value: "Demo_Cluster"`},
		{"instance group in a missing subnet", "public-3zone.yaml", func(m *Manifests) {
			m.InstanceGroup("nodes").Spec.Subnets = []string{"us-east-1a", "nowhere"}
		}, "InstanceGroup \"nodes\" is invalid:\n  * spec.subnets[1]: Not found: \"nowhere\""},
		{"min above max", "public-3zone.yaml", func(m *Manifests) {
			m.InstanceGroup("nodes").Spec.MinSize = 5
		}, `spec.maxSize: Invalid value: 3: must be at least spec.minSize (5)`},
		{"even etcd members", "public-3zone.yaml", func(m *Manifests) {
			m.Cluster.Spec.EtcdClusters[0].Members = m.Cluster.Spec.EtcdClusters[0].Members[:2]
		}, `spec.etcdClusters[0].members: Invalid value: 2: etcd needs an odd number of members`},
		{"etcd member on a node group", "public-3zone.yaml", func(m *Manifests) {
			m.Cluster.Spec.EtcdClusters[1].Members[0].InstanceGroup = "nodes"
		}, `spec.etcdClusters[1].members[0].instanceGroup: Invalid value: "nodes": has role Node`},
		{"etcd member on a missing group", "public-3zone.yaml", func(m *Manifests) {
			m.Cluster.Spec.EtcdClusters[0].Members[2].InstanceGroup = "ghost"
		}, `spec.etcdClusters[0].members[2].instanceGroup: Not found: "ghost"`},
		{"version too old", "public-3zone.yaml", func(m *Manifests) {
			m.Cluster.Spec.KubernetesVersion = "1.28.4"
		}, `spec.kubernetesVersion: Invalid value: "1.28.4": kapstan supports Kubernetes`},
		{"version not semantic", "public-3zone.yaml", func(m *Manifests) {
			m.Cluster.Spec.KubernetesVersion = "latest"
		}, `spec.kubernetesVersion: Invalid value: "latest": not a semantic version`},
		{"private topology without utility subnets", "private-bastion.yaml", func(m *Manifests) {
			m.Cluster.Spec.Subnets = m.Cluster.Spec.Subnets[:3]
			m.InstanceGroups = m.InstanceGroups[:2]
		}, `spec.zones[0]: Invalid value: "eu-west-1a": has no Utility subnet, which a private topology needs`},
		{"existing VPC without subnet ids", "existing-vpc.yaml", func(m *Manifests) {
			m.Cluster.Spec.Subnets[1].ID = ""
		}, `spec.subnets[1].id: Required value: an existing VPC (spec.networkID) needs the id of each of its subnets`},
		{"gossip cluster with a DNS zone", "public-3zone.yaml", func(m *Manifests) {
			m.Cluster.Spec.DNSZone = "example.com"
		}, `spec.dnsZone: Forbidden`},
		{"bastion in a public topology", "public-3zone.yaml", func(m *Manifests) {
			m.Cluster.Spec.Topology.Bastion = true
		}, `spec.topology.bastion: Invalid value: true: a bastion needs a private topology`},
		{"unknown CNI", "public-3zone.yaml", func(m *Manifests) {
			m.Cluster.Spec.Networking.CNI = "weave"
		}, `spec.networking.cni: Unsupported value: "weave"`},
		{"reserved cloud label", "private-bastion.yaml", func(m *Manifests) {
			m.Cluster.Spec.CloudLabels["aws:owner"] = "x"
		}, `spec.cloudLabels[aws:owner]: Invalid value: "aws:owner": tag keys starting with aws: are reserved`},
		{"bad taint", "private-bastion.yaml", func(m *Manifests) {
			m.InstanceGroup("nodes").Spec.Taints = []string{"dedicated=web:Sometimes"}
		}, `spec.taints[0]: Invalid value: "dedicated=web:Sometimes": effect must be`},
		{"bad surge", "private-bastion.yaml", func(m *Manifests) {
			v := intstr.FromString("150%")
			m.InstanceGroup("nodes").Spec.RollingUpdate.MaxSurge = &v
		}, `spec.rollingUpdate.maxSurge: Invalid value: "150%"`},
		{"spot share above 100", "private-bastion.yaml", func(m *Manifests) {
			v := int32(120)
			m.InstanceGroup("nodes").Spec.MixedInstancesPolicy.OnDemandAboveBase = &v
		}, `spec.mixedInstancesPolicy.onDemandAboveBase: Invalid value: 120`},
		{"node group in a utility subnet", "private-bastion.yaml", func(m *Manifests) {
			m.InstanceGroup("nodes").Spec.Subnets = []string{"utility-eu-west-1a"}
		}, `spec.subnets[0]: Invalid value: "utility-eu-west-1a": utility subnets hold load balancers`},
		{"duplicate instance group", "public-3zone.yaml", func(m *Manifests) {
			m.InstanceGroups = append(m.InstanceGroups, m.InstanceGroup("nodes"))
		}, `metadata.name: Duplicate value: "nodes"`},
		{"bad ssh key", "public-3zone.yaml", func(m *Manifests) {
			m.Cluster.Spec.SSHPublicKey = "ssh-rsa not-a-key"
		}, `spec.sshPublicKey: Invalid value: "ssh-rsa not-a-key": not an OpenSSH public key`},
		{"addon named like a builtin", "public-3zone.yaml", func(m *Manifests) {
			m.Cluster.Spec.Addons = []AddonSpec{{Name: "coredns", Manifest: "coredns.yaml"}}
		}, `spec.addons[0].name: Invalid value: "coredns": is the name of one of kapstan's own add-ons`},
		{"addon without manifest", "public-3zone.yaml", func(m *Manifests) {
			m.Cluster.Spec.Addons = []AddonSpec{{Name: "metrics"}}
		}, `spec.addons[0].manifest: Required value`},
		{"duplicate addon", "public-3zone.yaml", func(m *Manifests) {
			m.Cluster.Spec.Addons = []AddonSpec{{Name: "metrics", Manifest: "a.yaml"}, {Name: "metrics", Manifest: "b.yaml"}}
		}, `spec.addons[1].name: Duplicate value: "metrics"`},
		{"addon store key escaping", "public-3zone.yaml", func(m *Manifests) {
			m.Cluster.Spec.Addons = []AddonSpec{{Name: "metrics", Manifest: "store:../other/x.yaml"}}
		}, `spec.addons[0].manifest: Invalid value: "store:../other/x.yaml"`},
		{"addon name not a label", "public-3zone.yaml", func(m *Manifests) {
			m.Cluster.Spec.Addons = []AddonSpec{{Name: "Metrics_Server", Manifest: "a.yaml"}}
		}, `spec.addons[0].name: Invalid value: "Metrics_Server"`},
		{"file repository without scheme", "public-3zone.yaml", func(m *Manifests) {
			m.Cluster.Spec.Assets = &AssetsSpec{FileRepository: "mirror-bucket/assets"}
		}, `spec.assets.fileRepository: Invalid value: "mirror-bucket/assets": must be a URL`},
		{"file repository of another scheme", "public-3zone.yaml", func(m *Manifests) {
			m.Cluster.Spec.Assets = &AssetsSpec{FileRepository: "ftp://mirror/assets"}
		}, `spec.assets.fileRepository: Invalid value: "ftp://mirror/assets": scheme "ftp" is not supported`},
		{"s3 file repository without bucket", "public-3zone.yaml", func(m *Manifests) {
			m.Cluster.Spec.Assets = &AssetsSpec{FileRepository: "s3:///assets"}
		}, `spec.assets.fileRepository: Invalid value: "s3:///assets": s3:// needs a bucket`},
		{"relative file repository", "public-3zone.yaml", func(m *Manifests) {
			m.Cluster.Spec.Assets = &AssetsSpec{FileRepository: "file://mirror"}
		}, `spec.assets.fileRepository: Invalid value: "file://mirror": file:// needs an absolute folder`},
		{"file repository escaping", "public-3zone.yaml", func(m *Manifests) {
			m.Cluster.Spec.Assets = &AssetsSpec{FileRepository: "s3://bucket/a/../b"}
		}, `spec.assets.fileRepository: Invalid value: "s3://bucket/a/../b": must not have empty, . or .. path segments`},
		{"image repository with scheme", "public-3zone.yaml", func(m *Manifests) {
			m.Cluster.Spec.Assets = &AssetsSpec{ImageRepository: "https://registry.example.com"}
		}, `spec.assets.imageRepository: Invalid value: "https://registry.example.com": must be a registry HOST[:PORT][/PATH]`},
		{"image repository with tag", "public-3zone.yaml", func(m *Manifests) {
			m.Cluster.Spec.Assets = &AssetsSpec{ImageRepository: "registry.example.com/k8s:v1"}
		}, `spec.assets.imageRepository: Invalid value: "registry.example.com/k8s:v1"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := load(t, tc.file)
			tc.mutate(m)
			err := Validate(m)
			if err == nil {
				t.Fatal("invalid manifests accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error does not say %q:\n%v", tc.want, err)
			}
		})
	}
}

func TestSetDefaultsIsIdempotent(t *testing.T) {
	m := load(t, "private-bastion.yaml")
	once, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	SetDefaults(m)
	twice, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if string(once) != string(twice) {
		t.Fatalf("defaulting twice changed the manifests:\n%s\n---\n%s", once, twice)
	}
	c := m.Cluster.Spec
	if c.API.DNSName != "api.private.example.com" || c.DNSZone != "example.com" || c.Region != "eu-west-1" {
		t.Fatalf("DNS defaults: api %q zone %q region %q", c.API.DNSName, c.DNSZone, c.Region)
	}
	if len(c.EtcdClusters) != 2 || len(c.EtcdClusters[0].Members) != 1 || c.EtcdClusters[0].Members[0].InstanceGroup != "control-plane" {
		t.Fatalf("etcd defaults: %+v", c.EtcdClusters)
	}
}
