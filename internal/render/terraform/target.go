// Package terraform renders a cluster's resources as a Terraform
// configuration: one kubernetes.tf written with hclwrite, and a data/
// folder beside it for the documents too long or too precious to inline
// (user-data scripts, IAM policies, SSH public keys).
//
// The resources render themselves: each kind implements [Renderable] and
// writes its blocks through a [Target], which names them, resolves the
// references between them (aws_vpc.demo_k8s_local.id, or an existing
// resource's literal id), collects the outputs and checks, when the file is
// assembled, that every reference names a block that was declared.
// Rendering is deterministic: blocks are sorted by type and name, map keys
// are sorted, and nothing depends on time or randomness.
package terraform

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/kapstan/kapstan/internal/engine"
)

// Renderable is a resource that renders itself into a Terraform
// configuration.
type Renderable interface {
	RenderTerraform(t *Target) error
}

// Existing is implemented by resources that may stand for something the
// cluster uses but does not own (an existing VPC, subnet or NAT gateway).
// ExistingID returns its id, or "" when the cluster owns the resource.
// References to an existing resource render as its literal id.
type Existing interface {
	ExistingID() string
}

// Expr is an HCL expression, as tokens.
type Expr hclwrite.Tokens

// Literal is a quoted string.
func Literal(s string) Expr { return Expr(hclwrite.TokensForValue(cty.StringVal(s))) }

// Traversal is a reference such as aws_lb.api.dns_name.
func Traversal(root string, attrs ...string) Expr {
	tr := hcl.Traversal{hcl.TraverseRoot{Name: root}}
	for _, a := range attrs {
		tr = append(tr, hcl.TraverseAttr{Name: a})
	}
	return Expr(hclwrite.TokensForTraversal(tr))
}

// block is one top-level block and the key it sorts by.
type block struct {
	kind     string // "data" or "resource"
	typ      string
	name     string
	contents *hclwrite.Block
}

// output is one output block: a single value, a map built entry by entry,
// or a fallback used only when no resource sets the output.
type output struct {
	value    Expr
	entries  map[string]Expr
	fallback Expr
}

// Target accumulates a configuration. Methods that find a problem record
// it and keep going; [Target.Files] returns the first problem.
type Target struct {
	opts     Options
	existing map[engine.Address]string
	names    map[engine.Address]string
	blocks   map[string]*block // by "resource.TYPE.NAME" or "data.TYPE.NAME"
	refs     map[string]string // "TYPE.NAME" or "data.TYPE.NAME" → who refers to it
	outputs  map[string]*output
	files    map[string][]byte
	current  engine.Address // the resource rendering, for messages
	err      error
}

func newTarget(opts Options) *Target {
	return &Target{
		opts: opts, existing: map[engine.Address]string{}, names: map[engine.Address]string{},
		blocks: map[string]*block{}, refs: map[string]string{}, outputs: map[string]*output{}, files: map[string][]byte{},
	}
}

// Cluster is the cluster's name.
func (t *Target) Cluster() string { return t.opts.Cluster }

// Region is the cluster's region.
func (t *Target) Region() string { return t.opts.Region }

func (t *Target) fail(format string, args ...any) {
	if t.err == nil {
		t.err = fmt.Errorf("%s: "+format, append([]any{t.current}, args...)...)
	}
}

// Name is the Terraform name of a resource: its address name with every
// character Terraform does not allow in a name replaced by "_"
// ("demo.k8s.local" → "demo_k8s_local"). Two addresses of a kind whose
// names sanitize alike both get a hash of their name appended, so names
// stay unique and stable.
func (t *Target) Name(addr engine.Address) string {
	if n, ok := t.names[addr]; ok {
		return n
	}
	return sanitize(addr.Name)
}

// nameAll fixes the names of every address before anything renders, so
// that a reference and its target agree on the name whatever the order.
func (t *Target) nameAll(addrs []engine.Address) {
	groups := map[string][]engine.Address{}
	for _, a := range addrs {
		k := a.Kind + "/" + sanitize(a.Name)
		groups[k] = append(groups[k], a)
	}
	for _, g := range groups {
		for _, a := range g {
			n := sanitize(a.Name)
			if len(g) > 1 {
				sum := sha256.Sum256([]byte(a.Name))
				n += "_" + hex.EncodeToString(sum[:4])
			}
			t.names[a] = n
		}
	}
}

// sanitize makes a Terraform name: letters, digits, "_" and "-", starting
// with a letter or "_".
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	out := b.String()
	if out == "" || !(out[0] >= 'a' && out[0] <= 'z' || out[0] >= 'A' && out[0] <= 'Z' || out[0] == '_') {
		out = "_" + out
	}
	return out
}

// Resource declares resource "typ" "name" for the address and returns its
// body.
func (t *Target) Resource(typ string, addr engine.Address) *Block {
	return t.ResourceNamed(typ, t.Name(addr))
}

// ResourceNamed declares a resource with a name of the caller's choosing,
// for the extra blocks a kind needs (an egress rule beside its security
// group, a tag on an existing resource).
func (t *Target) ResourceNamed(typ, name string) *Block {
	return t.declare("resource", typ, name)
}

// Data declares data "typ" "name" and returns its body, or returns nil
// when it is declared already: several resources may share a data source
// (one image for many instance groups).
func (t *Target) Data(typ, name string) *Block {
	if _, ok := t.blocks["data."+typ+"."+name]; ok {
		return nil
	}
	return t.declare("data", typ, name)
}

func (t *Target) declare(kind, typ, name string) *Block {
	key := kind + "." + typ + "." + name
	if _, dup := t.blocks[key]; dup {
		t.fail("%s %q %q is declared twice", kind, typ, name)
	}
	hb := hclwrite.NewBlock(kind, []string{typ, name})
	t.blocks[key] = &block{kind: kind, typ: typ, name: name, contents: hb}
	return &Block{body: hb.Body()}
}

// Existing registers a resource the cluster does not own: references to
// addr render as id.
func (t *Target) Existing(addr engine.Address, id string) { t.existing[addr] = id }

// Ref renders a reference to another resource's attribute: the literal id
// for a resource known only by id or an existing one, else a traversal
// typ.NAME.attr, which must be declared by the time the file is assembled.
func (t *Target) Ref(typ string, r engine.Ref, attr string) Expr {
	if r.Addr.IsZero() {
		return Literal(r.ID)
	}
	if id, ok := t.existing[r.Addr]; ok {
		return Literal(id)
	}
	name := t.Name(r.Addr)
	t.refs[typ+"."+name] = t.current.String()
	return Traversal(typ, name, attr)
}

// Refs renders a list of references.
func (t *Target) Refs(typ string, rs []engine.Ref, attr string) []Expr {
	out := make([]Expr, 0, len(rs))
	for _, r := range rs {
		out = append(out, t.Ref(typ, r, attr))
	}
	return out
}

// RefNamed refers to a block declared with ResourceNamed.
func (t *Target) RefNamed(typ, name, attr string) Expr {
	t.refs[typ+"."+name] = t.current.String()
	return Traversal(typ, name, attr)
}

// DataRef refers to a data source's attribute.
func (t *Target) DataRef(typ, name, attr string) Expr {
	t.refs["data."+typ+"."+name] = t.current.String()
	return Traversal("data", typ, name, attr)
}

// File stores content as data/NAME and returns the expression that reads
// it: file("${path.module}/data/NAME").
func (t *Target) File(name string, content []byte) Expr {
	return t.fileCall("file", name, content)
}

// FileBase64 is File for content Terraform must pass base64-encoded
// (launch template user data).
func (t *Target) FileBase64(name string, content []byte) Expr {
	return t.fileCall("filebase64", name, content)
}

func (t *Target) fileCall(fn, name string, content []byte) Expr {
	name = sanitize(name)
	path := "data/" + name
	if _, dup := t.files[path]; dup {
		t.fail("data file %s is written twice", path)
	}
	t.files[path] = content
	tmpl := hclwrite.Tokens{
		{Type: hclsyntax.TokenOQuote, Bytes: []byte(`"`)},
		{Type: hclsyntax.TokenTemplateInterp, Bytes: []byte("${")},
		{Type: hclsyntax.TokenIdent, Bytes: []byte("path")},
		{Type: hclsyntax.TokenDot, Bytes: []byte(".")},
		{Type: hclsyntax.TokenIdent, Bytes: []byte("module")},
		{Type: hclsyntax.TokenTemplateSeqEnd, Bytes: []byte("}")},
		{Type: hclsyntax.TokenQuotedLit, Bytes: []byte("/" + path)},
		{Type: hclsyntax.TokenCQuote, Bytes: []byte(`"`)},
	}
	return Expr(hclwrite.TokensForFunctionCall(fn, tmpl))
}

// Output sets output "name" to value. Setting it twice is an error.
func (t *Target) Output(name string, value Expr) {
	o := t.output(name)
	if o.value != nil || o.entries != nil {
		t.fail("output %q is set twice", name)
	}
	o.value = value
}

// OutputDefault sets output "name" to value unless a resource sets it with
// Output.
func (t *Target) OutputDefault(name string, value Expr) {
	t.output(name).fallback = value
}

// OutputEntry adds key = value to the map output "name".
func (t *Target) OutputEntry(name, key string, value Expr) {
	o := t.output(name)
	if o.value != nil {
		t.fail("output %q is both a value and a map", name)
	}
	if o.entries == nil {
		o.entries = map[string]Expr{}
	}
	if _, dup := o.entries[key]; dup {
		t.fail("output %q has key %q twice", name, key)
	}
	o.entries[key] = value
}

func (t *Target) output(name string) *output {
	o, ok := t.outputs[name]
	if !ok {
		o = &output{}
		t.outputs[name] = o
	}
	return o
}

// Block is the body of a block, with helpers for the attribute types the
// resources use.
type Block struct {
	body *hclwrite.Body
}

// String sets name = "v".
func (b *Block) String(name, v string) { b.body.SetAttributeValue(name, cty.StringVal(v)) }

// OptString sets name = "v" unless v is empty.
func (b *Block) OptString(name, v string) {
	if v != "" {
		b.String(name, v)
	}
}

// Bool sets name = v.
func (b *Block) Bool(name string, v bool) { b.body.SetAttributeValue(name, cty.BoolVal(v)) }

// Int sets name = v.
func (b *Block) Int(name string, v int64) { b.body.SetAttributeValue(name, cty.NumberIntVal(v)) }

// Strings sets name = ["a", "b"].
func (b *Block) Strings(name string, vs []string) {
	es := make([]Expr, 0, len(vs))
	for _, v := range vs {
		es = append(es, Literal(v))
	}
	b.List(name, es)
}

// Expr sets name = e.
func (b *Block) Expr(name string, e Expr) { b.body.SetAttributeRaw(name, hclwrite.Tokens(e)) }

// List sets name = [e1, e2].
func (b *Block) List(name string, es []Expr) {
	toks := make([]hclwrite.Tokens, 0, len(es))
	for _, e := range es {
		toks = append(toks, hclwrite.Tokens(e))
	}
	b.body.SetAttributeRaw(name, hclwrite.TokensForTuple(toks))
}

// Map sets name = { "k" = "v" } with keys in order; nothing when m is
// empty.
func (b *Block) Map(name string, m map[string]string) {
	if len(m) == 0 {
		return
	}
	es := map[string]Expr{}
	for k, v := range m {
		es[k] = Literal(v)
	}
	b.body.SetAttributeRaw(name, objectTokens(es, false))
}

// Tags sets tags = { … }.
func (b *Block) Tags(tags map[string]string) { b.Map("tags", tags) }

// Block appends a nested block.
func (b *Block) Block(typ string) *Block {
	return &Block{body: b.body.AppendNewBlock(typ, nil).Body()}
}

// objectTokens renders { k = v } in key order, keys quoted (tag keys hold
// dots and slashes) or, with bare, as identifiers.
func objectTokens(m map[string]Expr, bare bool) hclwrite.Tokens {
	attrs := make([]hclwrite.ObjectAttrTokens, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		name := hclwrite.TokensForValue(cty.StringVal(k))
		if bare {
			name = hclwrite.TokensForIdentifier(k)
		}
		attrs = append(attrs, hclwrite.ObjectAttrTokens{Name: name, Value: hclwrite.Tokens(m[k])})
	}
	return hclwrite.TokensForObject(attrs)
}
