// Package cloudformation renders a cluster's resources as one
// CloudFormation template (JSON).
//
// The resources render themselves: each kind implements [Renderable] and
// adds its resources to a [Template], which gives them logical ids,
// resolves the references between them (Ref and Fn::GetAtt, or an
// existing resource's literal id), collects parameters and outputs, and
// checks, when the template is assembled, that every Ref, GetAtt and
// DependsOn names a resource or parameter of the template. Rendering is
// deterministic: JSON object keys are sorted and nothing depends on time or
// randomness. User data is embedded (Fn::Base64), so the template is the
// only file.
package cloudformation

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"

	"github.com/kapstan/kapstan/internal/engine"
)

// Renderable is a resource that renders itself into a CloudFormation
// template.
type Renderable interface {
	RenderCloudFormation(t *Template) error
}

// Existing is implemented by resources that may stand for something the
// cluster uses but does not own (an existing VPC, subnet or NAT gateway).
// ExistingID returns its id, or "" when the cluster owns the resource.
// References to an existing resource render as its literal id.
type Existing interface {
	ExistingID() string
}

// Resource is one entry of the template's Resources.
type Resource struct {
	Type       string         `json:"Type"`
	DependsOn  []string       `json:"DependsOn,omitempty"`
	Properties map[string]any `json:"Properties"`
}

// Parameter is one entry of the template's Parameters.
type Parameter struct {
	Type        string `json:"Type"`
	Default     string `json:"Default,omitempty"`
	Description string `json:"Description,omitempty"`
}

// Output is one entry of the template's Outputs.
type Output struct {
	Description string `json:"Description,omitempty"`
	Value       any    `json:"Value"`
}

// Template accumulates a template. Methods that find a problem record it
// and keep going; Render returns the first problem.
type Template struct {
	opts       Options
	ids        map[engine.Address]string
	existing   map[engine.Address]string
	resources  map[string]*Resource
	parameters map[string]*Parameter
	outputs    map[string]*Output
	fallbacks  map[string]*Output
	refs       map[string]string // logical id referred to → who refers
	current    engine.Address
	err        error
}

func newTemplate(opts Options) *Template {
	return &Template{
		opts: opts, ids: map[engine.Address]string{}, existing: map[engine.Address]string{},
		resources: map[string]*Resource{}, parameters: map[string]*Parameter{},
		outputs: map[string]*Output{}, fallbacks: map[string]*Output{}, refs: map[string]string{},
	}
}

// Cluster is the cluster's name.
func (t *Template) Cluster() string { return t.opts.Cluster }

func (t *Template) fail(format string, args ...any) {
	if t.err == nil {
		t.err = fmt.Errorf("%s: "+format, append([]any{t.current}, args...)...)
	}
}

// LogicalID is a resource's logical id: its kind and its name in
// CamelCase, letters and digits only ("Subnet/us-east-1a" →
// "SubnetUsEast1a"). Two addresses whose ids come out alike both get a
// hash of their name appended.
func (t *Template) LogicalID(addr engine.Address) string {
	if id, ok := t.ids[addr]; ok {
		return id
	}
	return logicalID(addr)
}

func logicalID(addr engine.Address) string { return alnum(addr.Kind) + Camel(addr.Name) }

// nameAll fixes every logical id before anything renders.
func (t *Template) nameAll(addrs []engine.Address) {
	groups := map[string][]engine.Address{}
	for _, a := range addrs {
		groups[logicalID(a)] = append(groups[logicalID(a)], a)
	}
	for id, g := range groups {
		for _, a := range g {
			if len(g) > 1 {
				sum := sha256.Sum256([]byte(a.Name))
				t.ids[a] = id + strings.ToUpper(hex.EncodeToString(sum[:4]))
			} else {
				t.ids[a] = id
			}
		}
	}
}

// Camel turns free text into a name CloudFormation accepts for a logical
// id, parameter or output: "private-us-east-1a" becomes "PrivateUsEast1a",
// every run of letters and digits starting with a capital, everything else
// dropped.
func Camel(s string) string {
	var b strings.Builder
	up := true
	for _, r := range s {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if up {
				r = unicode.ToUpper(r)
			}
			b.WriteRune(r)
			up = false
		default:
			up = true
		}
	}
	return b.String()
}

func alnum(s string) string {
	return strings.Map(func(r rune) rune {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return r
		}
		return -1
	}, s)
}

// Add adds a resource under a logical id and returns it, so the caller can
// add DependsOn.
func (t *Template) Add(logicalID, typ string, props map[string]any) *Resource {
	if _, dup := t.resources[logicalID]; dup {
		t.fail("logical id %s is used twice", logicalID)
	}
	r := &Resource{Type: typ, Properties: props}
	t.resources[logicalID] = r
	return r
}

// DependOn makes r wait for the resource with logical id id.
func (t *Template) DependOn(r *Resource, id string) {
	t.refs[id] = t.current.String()
	if !slices.Contains(r.DependsOn, id) {
		r.DependsOn = append(r.DependsOn, id)
		slices.Sort(r.DependsOn)
	}
}

// Existing registers a resource the cluster does not own: references to
// addr render as id.
func (t *Template) Existing(addr engine.Address, id string) { t.existing[addr] = id }

// Ref renders {"Ref": id}, or the literal id of a resource known only by
// id or an existing one.
func (t *Template) Ref(r engine.Ref) any {
	if r.Addr.IsZero() {
		return r.ID
	}
	if id, ok := t.existing[r.Addr]; ok {
		return id
	}
	return t.RefID(t.LogicalID(r.Addr))
}

// Refs renders a list of references.
func (t *Template) Refs(rs []engine.Ref) []any {
	out := make([]any, 0, len(rs))
	for _, r := range rs {
		out = append(out, t.Ref(r))
	}
	return out
}

// RefID renders {"Ref": id} for a logical id or parameter name.
func (t *Template) RefID(id string) map[string]any {
	t.refs[id] = t.current.String()
	return map[string]any{"Ref": id}
}

// GetAtt renders {"Fn::GetAtt": [id, attr]}, or the literal id of a
// resource known only by id or an existing one.
func (t *Template) GetAtt(r engine.Ref, attr string) any {
	if r.Addr.IsZero() {
		return r.ID
	}
	if id, ok := t.existing[r.Addr]; ok {
		return id
	}
	return t.GetAttID(t.LogicalID(r.Addr), attr)
}

// GetAttID renders {"Fn::GetAtt": [id, attr]} for a logical id.
func (t *Template) GetAttID(id, attr string) map[string]any {
	t.refs[id] = t.current.String()
	return map[string]any{"Fn::GetAtt": []string{id, attr}}
}

// Parameter declares a parameter once and returns {"Ref": name}.
func (t *Template) Parameter(name string, p Parameter) map[string]any {
	if prev, ok := t.parameters[name]; ok && *prev != p {
		t.fail("parameter %s is declared twice, differently", name)
	}
	t.parameters[name] = &p
	return t.RefID(name)
}

// Output sets an output. Setting it twice is an error.
func (t *Template) Output(name, description string, value any) {
	if _, dup := t.outputs[name]; dup {
		t.fail("output %s is set twice", name)
	}
	t.outputs[name] = &Output{Description: description, Value: value}
}

// OutputDefault sets an output unless a resource sets it with Output.
func (t *Template) OutputDefault(name, description string, value any) {
	t.fallbacks[name] = &Output{Description: description, Value: value}
}

// Tags renders tags as CloudFormation wants them: a list of Key/Value in
// key order.
func Tags(tags map[string]string) []map[string]string {
	out := make([]map[string]string, 0, len(tags))
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		out = append(out, map[string]string{"Key": k, "Value": tags[k]})
	}
	return out
}

// document is the template as written.
type document struct {
	AWSTemplateFormatVersion string                `json:"AWSTemplateFormatVersion"`
	Description              string                `json:"Description"`
	Parameters               map[string]*Parameter `json:"Parameters,omitempty"`
	Resources                map[string]*Resource  `json:"Resources"`
	Outputs                  map[string]*Output    `json:"Outputs,omitempty"`
}

// bytes checks every reference and writes the template as indented JSON;
// encoding/json sorts map keys, so the bytes are stable.
func (t *Template) bytes() ([]byte, error) {
	if t.err != nil {
		return nil, t.err
	}
	for name, o := range t.fallbacks {
		if _, set := t.outputs[name]; !set {
			t.outputs[name] = o
		}
	}
	for _, id := range slices.Sorted(maps.Keys(t.refs)) {
		_, isRes := t.resources[id]
		_, isParam := t.parameters[id]
		if !isRes && !isParam {
			return nil, fmt.Errorf("%s refers to %s, which is neither a resource nor a parameter of the template", t.refs[id], id)
		}
	}
	doc := document{
		AWSTemplateFormatVersion: "2010-09-09",
		Description:              fmt.Sprintf("Kubernetes cluster %s (spec revision %d), rendered by kapstan", t.opts.Cluster, t.opts.Revision),
		Parameters:               t.parameters,
		Resources:                t.resources,
		Outputs:                  t.outputs,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encoding the template: %w", err)
	}
	return buf.Bytes(), nil
}
