package pki

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/kapstan/kapstan/internal/store"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// IDs of the cluster-wide keypairs.
//
// Each trust domain has its own CA, so a certificate for one purpose is
// useless for another: an etcd client certificate cannot authenticate to
// the Kubernetes API, a front-proxy client cannot talk to etcd.
const (
	// KubernetesCA signs the apiserver's serving certificate and every
	// client of the Kubernetes API; the controller manager signs kubelet
	// CSRs with it.
	KubernetesCA = "kubernetes-ca"
	// EtcdServerCA signs the etcd members' serving certificates; the
	// apiserver trusts it for etcd (--etcd-cafile).
	EtcdServerCA = "etcd-server-ca"
	// EtcdPeerCA signs the certificates etcd members present to each other.
	EtcdPeerCA = "etcd-peer-ca"
	// EtcdClientCA signs etcd's clients (the apiserver); etcd trusts only it
	// (--trusted-ca-file).
	EtcdClientCA = "etcd-client-ca"
	// FrontProxyCA signs the apiserver's client certificate for aggregated
	// APIs (--requestheader-client-ca-file).
	FrontProxyCA = "front-proxy-ca"
	// ServiceAccount is the key that signs service-account tokens. It is
	// kept as a self-signed certificate, so it lists like every keypair.
	ServiceAccount = "service-account"

	// APIServer is the apiserver's serving certificate; see APIServerSANs.
	APIServer = "kube-apiserver"
	// APIServerKubeletClient is how the apiserver authenticates to
	// kubelets (logs, exec, port-forward).
	APIServerKubeletClient = "kube-apiserver-kubelet-client"
	// APIServerEtcdClient is how the apiserver authenticates to etcd.
	APIServerEtcdClient = "kube-apiserver-etcd-client"
	// FrontProxyClient is how the apiserver authenticates to aggregated
	// API servers.
	FrontProxyClient = "front-proxy-client"
	// ControllerManager and Scheduler are the control-plane components'
	// API clients, with the user names the bootstrap RBAC policy binds.
	ControllerManager = "kube-controller-manager"
	Scheduler         = "kube-scheduler"
	// Kubelet is the kubelets' API client: CN=kubelet in group
	// system:nodes, shared by every node of the cluster, because a node's
	// name is not known when the certificate is made. The Node authorizer
	// and NodeRestriction only recognize users named system:node:NAME, so
	// this identity needs an RBAC binding of system:nodes to the
	// system:node ClusterRole (an add-on) and is not confined to its own
	// Node; per-node identities through TLS bootstrap are the way out.
	Kubelet = "kubelet"
)

// Subjects of the clients. The control-plane names are the users the
// apiserver's bootstrap RBAC policy already binds.
const (
	KubeletUser           = "kubelet"
	NodesGroup            = "system:nodes"
	MastersGroup          = "system:masters"
	ControllerManagerUser = "system:kube-controller-manager"
	SchedulerUser         = "system:kube-scheduler"
	// AdminUser is the user of `export kubeconfig --admin`.
	AdminUser = "kapstan-admin"
)

// EtcdServerID and EtcdPeerID name the certificates of one etcd member of
// one etcd cluster ("main" or "events").
func EtcdServerID(etcdCluster, member string) string {
	return "etcd-" + etcdCluster + "-" + member + "-server"
}

// EtcdPeerID is the ID of a member's peer certificate.
func EtcdPeerID(etcdCluster, member string) string {
	return "etcd-" + etcdCluster + "-" + member + "-peer"
}

// EtcdMemberDNSName is the name other members and clients reach a member
// by: etcd-MEMBER.internal.CLUSTER for "main", etcd-events-MEMBER.internal.
// CLUSTER for "events".
func EtcdMemberDNSName(cluster, etcdCluster, member string) string {
	prefix := "etcd-"
	if etcdCluster != "main" {
		prefix += etcdCluster + "-"
	}
	return prefix + member + ".internal." + cluster
}

// APIInternalName is the name nodes reach the API by in a cluster with a
// DNS zone: api.internal.CLUSTER.
func APIInternalName(cluster string) string { return "api.internal." + cluster }

// APIServerSANs are the names the apiserver's certificate carries: every
// name a client may dial. lbDNSName is the API load balancer's own DNS
// name, empty while it is not known.
func APIServerSANs(c *api.Cluster, lbDNSName string) (dns []string, ips []net.IP, err error) {
	name := c.Metadata.Name
	dns = []string{"api." + name, APIInternalName(name)}
	if n := c.Spec.API.DNSName; n != "" {
		dns = append(dns, n)
	}
	if lbDNSName != "" {
		dns = append(dns, lbDNSName)
	}
	domain := c.Spec.ClusterDNSDomain
	if domain == "" {
		domain = api.DefaultClusterDNSDomain
	}
	dns = append(dns, "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc."+domain)
	first, err := ServiceIP(c.Spec.ServiceClusterIPRange, 1)
	if err != nil {
		return nil, nil, err
	}
	ips = []net.IP{net.IP(first.AsSlice()), net.IPv4(127, 0, 0, 1).To4()}
	return uniq(dns), ips, nil
}

// ServiceIP is the n-th address of the service range: 1 is the
// "kubernetes" Service's address, 10 is cluster DNS's by convention.
func ServiceIP(serviceRange string, n int) (netip.Addr, error) {
	p, err := netip.ParsePrefix(serviceRange)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("service range %q: %w", serviceRange, err)
	}
	a := p.Masked().Addr()
	for range n {
		a = a.Next()
	}
	if !p.Contains(a) {
		return netip.Addr{}, fmt.Errorf("service range %q has no address number %d", serviceRange, n)
	}
	return a, nil
}

func uniq(s []string) []string {
	var out []string
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// ClusterSpecs lists every keypair the cluster needs, CAs first. It is a
// pure function of the spec and the load balancer's name.
func ClusterSpecs(m *api.Manifests, lbDNSName string) ([]Spec, error) {
	if m.Cluster == nil {
		return nil, fmt.Errorf("pki: the manifests hold no Cluster")
	}
	dns, ips, err := APIServerSANs(m.Cluster, lbDNSName)
	if err != nil {
		return nil, fmt.Errorf("pki: apiserver certificate: %w", err)
	}
	name := m.Cluster.Metadata.Name
	specs := []Spec{
		{ID: KubernetesCA, IsCA: true, CommonName: "kubernetes-ca"},
		{ID: EtcdServerCA, IsCA: true, CommonName: "etcd-server-ca"},
		{ID: EtcdPeerCA, IsCA: true, CommonName: "etcd-peer-ca"},
		{ID: EtcdClientCA, IsCA: true, CommonName: "etcd-client-ca"},
		{ID: FrontProxyCA, IsCA: true, CommonName: "front-proxy-ca"},
		{ID: ServiceAccount, CommonName: "service-account", Lifetime: CALifetime},

		{ID: APIServer, CA: KubernetesCA, CommonName: "kube-apiserver", DNSNames: dns, IPs: ips, Usage: UsageServer},
		{ID: APIServerKubeletClient, CA: KubernetesCA, CommonName: APIServerKubeletClient, Organization: []string{MastersGroup}, Usage: UsageClient},
		{ID: APIServerEtcdClient, CA: EtcdClientCA, CommonName: APIServerEtcdClient, Usage: UsageClient},
		{ID: FrontProxyClient, CA: FrontProxyCA, CommonName: FrontProxyClient, Usage: UsageClient},
		{ID: ControllerManager, CA: KubernetesCA, CommonName: ControllerManagerUser, Usage: UsageClient},
		{ID: Scheduler, CA: KubernetesCA, CommonName: SchedulerUser, Usage: UsageClient},
		{ID: Kubelet, CA: KubernetesCA, CommonName: KubeletUser, Organization: []string{NodesGroup}, Usage: UsageClient},
	}
	for _, ec := range m.Cluster.Spec.EtcdClusters {
		for _, mem := range ec.Members {
			host := EtcdMemberDNSName(name, ec.Name, mem.Name)
			// The local apiserver dials its member on 127.0.0.1; other
			// members and etcdctl use the member's name.
			specs = append(specs,
				Spec{ID: EtcdServerID(ec.Name, mem.Name), CA: EtcdServerCA, CommonName: host,
					DNSNames: []string{host, "localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1).To4()}, Usage: UsageServer},
				Spec{ID: EtcdPeerID(ec.Name, mem.Name), CA: EtcdPeerCA, CommonName: host,
					DNSNames: []string{host}, Usage: UsageServer | UsageClient},
			)
		}
	}
	return specs, nil
}

// Ensure creates the keypairs of the cluster m describes that the store
// lacks, and the secret that encrypts Kubernetes Secrets in etcd
// (EncryptionKey) if it is missing; it re-signs the apiserver's certificate when it lacks a name (the
// load balancer's, once lbDNSName is known). It never replaces a CA or a
// key. The changes it returns hold no key material.
//
// `update cluster` calls it before writing the node configurations.
func Ensure(ctx context.Context, s store.Store, m *api.Manifests, lbDNSName string) ([]Change, error) {
	specs, err := ClusterSpecs(m, lbDNSName)
	if err != nil {
		return nil, err
	}
	name := m.Cluster.Metadata.Name
	changes, err := NewKeystore(s, name).Ensure(ctx, specs)
	if err != nil {
		return changes, fmt.Errorf("cluster %q: PKI: %w", name, err)
	}
	created, err := NewSecrets(s, name).ensure(ctx, EncryptionKey, newEncryptionKey)
	if err != nil {
		return changes, fmt.Errorf("cluster %q: %w", name, err)
	}
	if created {
		changes = append(changes, Change{ID: EncryptionKey, Action: Created, Reason: "secret"})
	}
	return changes, nil
}

// AdminSpec is the spec of a short-lived admin client certificate:
// CN=kapstan-admin in system:masters, valid for lifetime.
func AdminSpec(lifetime time.Duration) Spec {
	return Spec{ID: "admin", CA: KubernetesCA, CommonName: AdminUser, Organization: []string{MastersGroup},
		Usage: UsageClient, Lifetime: lifetime}
}

// LoadBalancerName returns the API load balancer's DNS name that Ensure put
// into the apiserver certificate cert, or "" when it has none. kapstan
// learns that name only from the cloud, during `update`; the certificate
// is where it must be for clients to connect through the load balancer, so
// commands that make no cloud call (export kubeconfig) read it from there.
func LoadBalancerName(c *api.Cluster, cert *x509.Certificate) string {
	fixed, _, err := APIServerSANs(c, "")
	if err != nil {
		return ""
	}
	for _, n := range cert.DNSNames {
		if !slices.Contains(fixed, n) {
			return n
		}
	}
	return ""
}
