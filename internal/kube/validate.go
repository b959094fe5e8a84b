// Package kube holds what kapstan does with a running cluster's Kubernetes
// API together with its cloud instances: validate it, and replace its
// instances in a rolling update.
//
// The decisions are pure functions of observations: [Validate] turns what
// the cloud and the API show into a [Result], and [NeedsUpdate] and the
// batch planning of a rolling update say which instances to replace next.
// The IO is behind two narrow interfaces, [Cloud] (the instance groups'
// Auto Scaling groups) and a client-go clientset, so the logic is tested on
// plain values and the whole on moto and a real kube-apiserver.
package kube

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// Group is an instance group's Auto Scaling group as the cloud shows it.
type Group struct {
	// Name is the instance group's name.
	Name string
	// CloudName is the Auto Scaling group's name.
	CloudName string
	// Min, Max and Desired are the group's sizes in the cloud.
	Min, Max, Desired int
	// LaunchTemplateVersion is the version new instances are launched
	// with.
	LaunchTemplateVersion string
	// Instances are the group's members; Detached are instances a rolling
	// update took out of the group (so it launched their replacements)
	// and has not terminated yet.
	Instances []Instance
	Detached  []Instance
}

// Instance is one cloud instance.
type Instance struct {
	ID   string
	Zone string
	// NodeName is the name its Node registers with (the private DNS name
	// on AWS).
	NodeName string
	// LaunchTemplateVersion is the version it was launched with.
	LaunchTemplateVersion string
}

// Observation is what validate looks at: the cloud's groups and the
// cluster's nodes and kube-system pods.
type Observation struct {
	Groups []Group
	Nodes  []corev1.Node
	// SystemPods are the pods of the kube-system namespace.
	SystemPods []corev1.Pod
}

// Failure is one reason a cluster is not valid.
type Failure struct {
	// Kind is what failed: InstanceGroup, Instance, Node, ControlPlane or
	// Pod.
	Kind string `json:"kind"`
	// Name names it.
	Name string `json:"name"`
	// Message says what is wrong.
	Message string `json:"message"`
}

func (f Failure) String() string { return fmt.Sprintf("%s %s: %s", f.Kind, f.Name, f.Message) }

// GroupStatus is one instance group in a Result.
type GroupStatus struct {
	Name        string                `json:"name"`
	Role        api.InstanceGroupRole `json:"role"`
	MachineType string                `json:"machineType"`
	Min         int                   `json:"min"`
	Max         int                   `json:"max"`
	// Instances is how many run in the group; Ready how many of them are
	// Ready nodes.
	Instances int `json:"instances"`
	Ready     int `json:"ready"`
}

// NodeStatus is one node in a Result.
type NodeStatus struct {
	Name          string                `json:"name"`
	InstanceID    string                `json:"instanceID,omitempty"`
	InstanceGroup string                `json:"instanceGroup,omitempty"`
	Role          api.InstanceGroupRole `json:"role,omitempty"`
	Ready         bool                  `json:"ready"`
}

// Result is the outcome of one validation.
type Result struct {
	Groups   []GroupStatus `json:"instanceGroups"`
	Nodes    []NodeStatus  `json:"nodes"`
	Failures []Failure     `json:"failures"`
}

// Valid reports whether nothing failed.
func (r *Result) Valid() bool { return len(r.Failures) == 0 }

// Scope limits a validation to some instance groups: their sizes, their
// instances and their nodes are checked, as well as what the whole cluster
// needs (control-plane count, critical pods). A nil Scope checks every
// group and every node.
type Scope map[string]bool

// Validate checks a cluster against its spec:
//   - every instance group has an Auto Scaling group whose instances number
//     within the spec's minSize..maxSize, and as many as the group wants;
//   - every instance of a group that runs Kubernetes is registered as a
//     Node, and every node is Ready;
//   - as many control-plane nodes are Ready as the control-plane groups'
//     minSize adds up to;
//   - every critical kube-system pod (priority class
//     system-cluster-critical or system-node-critical) is Ready.
//
// Instances detached by a rolling update are out of their group and are
// not counted; their nodes, usually cordoned, still must be Ready.
func Validate(m *api.Manifests, obs Observation, scope Scope) Result {
	var r Result
	fail := func(kind, name, format string, args ...any) {
		r.Failures = append(r.Failures, Failure{Kind: kind, Name: name, Message: fmt.Sprintf(format, args...)})
	}
	inScope := func(ig string) bool { return scope == nil || scope[ig] }

	nodesByInstance := map[string]*corev1.Node{}
	nodesByName := map[string]*corev1.Node{}
	for i := range obs.Nodes {
		n := &obs.Nodes[i]
		nodesByName[n.Name] = n
		if id := InstanceID(n.Spec.ProviderID); id != "" {
			nodesByInstance[id] = n
		}
	}
	groups := map[string]*Group{}
	for i := range obs.Groups {
		groups[obs.Groups[i].Name] = &obs.Groups[i]
	}
	type owner struct {
		group string
		role  api.InstanceGroupRole
		id    string
	}
	owners := map[string]owner{} // node name → its instance and group
	wantControlPlane, readyControlPlane := 0, 0

	for _, ig := range m.InstanceGroups {
		s := ig.Spec
		name := ig.Metadata.Name
		if s.Role == api.RoleControlPlane {
			wantControlPlane += int(s.MinSize)
		}
		gs := GroupStatus{Name: name, Role: s.Role, MachineType: s.MachineType, Min: int(s.MinSize), Max: int(s.MaxSize)}
		g := groups[name]
		if g == nil {
			if inScope(name) {
				fail("InstanceGroup", name, "has no Auto Scaling group in the cloud; run `kapstan update cluster --yes`")
			}
			r.Groups = append(r.Groups, gs)
			continue
		}
		gs.Instances = len(g.Instances)
		for _, in := range slices.Concat(g.Instances, g.Detached) {
			n := nodeOf(in, nodesByInstance, nodesByName)
			if n != nil {
				owners[n.Name] = owner{group: name, role: s.Role, id: in.ID}
			}
		}
		for _, in := range g.Instances {
			n := nodeOf(in, nodesByInstance, nodesByName)
			ready := n != nil && NodeReady(n)
			if ready {
				gs.Ready++
				if s.Role == api.RoleControlPlane {
					readyControlPlane++
				}
			}
			if n == nil && s.Role != api.RoleBastion && inScope(name) {
				fail("Instance", in.ID, "of instance group %s has not joined the cluster as a node", name)
			}
		}
		if inScope(name) {
			switch n := len(g.Instances); {
			case n < int(s.MinSize):
				fail("InstanceGroup", name, "has %d instances, fewer than its minSize %d", n, s.MinSize)
			case n > int(s.MaxSize):
				fail("InstanceGroup", name, "has %d instances, more than its maxSize %d", n, s.MaxSize)
			case n < g.Desired:
				fail("InstanceGroup", name, "has %d instances of the %d it wants; the rest are launching", n, g.Desired)
			}
		}
		r.Groups = append(r.Groups, gs)
	}

	for i := range obs.Nodes {
		n := &obs.Nodes[i]
		o, known := owners[n.Name]
		ns := NodeStatus{Name: n.Name, InstanceID: o.id, InstanceGroup: o.group, Role: o.role, Ready: NodeReady(n)}
		r.Nodes = append(r.Nodes, ns)
		if ns.Ready || (scope != nil && !(known && scope[o.group])) {
			continue
		}
		fail("Node", n.Name, "is not Ready: %s", notReadyReason(n))
	}
	slices.SortFunc(r.Nodes, func(a, b NodeStatus) int { return strings.Compare(a.Name, b.Name) })

	if readyControlPlane < wantControlPlane {
		fail("ControlPlane", m.Cluster.Metadata.Name, "%d of %d control-plane nodes are Ready", readyControlPlane, wantControlPlane)
	}
	for i := range obs.SystemPods {
		p := &obs.SystemPods[i]
		if !critical(p) || p.Status.Phase == corev1.PodSucceeded || p.DeletionTimestamp != nil {
			continue
		}
		if !podReady(p) {
			fail("Pod", p.Namespace+"/"+p.Name, "critical pod is not Ready (phase %s)", phaseOf(p))
		}
	}
	return r
}

// nodeOf finds an instance's node: by provider ID, else by name.
func nodeOf(in Instance, byInstance, byName map[string]*corev1.Node) *corev1.Node {
	if n := byInstance[in.ID]; n != nil {
		return n
	}
	if in.NodeName != "" {
		if n := byName[in.NodeName]; n != nil && n.Spec.ProviderID == "" {
			return n
		}
	}
	return nil
}

// InstanceID is the instance ID at the end of a provider ID such as
// aws:///us-east-1a/i-0123456789abcdef0, or "".
func InstanceID(providerID string) string {
	if !strings.HasPrefix(providerID, "aws://") {
		return ""
	}
	id := providerID[strings.LastIndex(providerID, "/")+1:]
	if !strings.HasPrefix(id, "i-") {
		return ""
	}
	return id
}

// NodeReady reports whether the node's Ready condition is True.
func NodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func notReadyReason(n *corev1.Node) string {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			if c.Message != "" {
				return fmt.Sprintf("Ready=%s (%s: %s)", c.Status, c.Reason, c.Message)
			}
			return fmt.Sprintf("Ready=%s (%s)", c.Status, c.Reason)
		}
	}
	return "no Ready condition yet"
}

func critical(p *corev1.Pod) bool {
	return p.Spec.PriorityClassName == "system-cluster-critical" || p.Spec.PriorityClassName == "system-node-critical"
}

func podReady(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func phaseOf(p *corev1.Pod) string {
	if p.Status.Phase == "" {
		return string(corev1.PodPending)
	}
	return string(p.Status.Phase)
}
