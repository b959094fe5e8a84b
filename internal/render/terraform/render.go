package terraform

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/kapstan/kapstan/internal/engine"
)

// MainFile is the configuration's file name; data files go under DataDir.
const (
	MainFile = "kubernetes.tf"
	DataDir  = "data"
)

// Provider requirements written in the terraform block. AWS provider 5.13
// is the first to handle security groups on a network load balancer (it
// replaces one that gains its first group, which AWS cannot change in
// place); the other resources and attributes used
// (aws_vpc_security_group_ingress_rule, aws_ssm_parameter.insecure_value,
// aws_eip.domain) are older.
const (
	requiredTerraform   = ">= 1.5.0"
	requiredAWSProvider = ">= 5.13"
)

// Options say what the configuration is for.
type Options struct {
	Cluster string
	Region  string
	// Revision is the spec revision rendered, written in the header.
	Revision int
}

// Render renders resources as a Terraform configuration: MainFile and the
// files under DataDir, by path relative to the output folder. Every
// resource must implement Renderable.
func Render(resources []engine.Resource, opts Options) (map[string][]byte, error) {
	t := newTarget(opts)
	addrs := make([]engine.Address, 0, len(resources))
	for _, r := range resources {
		addrs = append(addrs, r.Address())
		if e, ok := r.(Existing); ok && e.ExistingID() != "" {
			t.Existing(r.Address(), e.ExistingID())
		}
	}
	t.nameAll(addrs)
	for _, r := range resources {
		rr, ok := r.(Renderable)
		if !ok {
			return nil, fmt.Errorf("%s: %T cannot be rendered to Terraform", r.Address(), r)
		}
		t.current = r.Address()
		if err := rr.RenderTerraform(t); err != nil {
			return nil, fmt.Errorf("%s: %w", r.Address(), err)
		}
	}
	t.current = engine.Address{}
	return t.assemble()
}

// assemble checks the references and writes the file: header, terraform
// and provider blocks, data sources, resources (each sorted by type and
// name), outputs (sorted by name).
func (t *Target) assemble() (map[string][]byte, error) {
	if t.err != nil {
		return nil, t.err
	}
	for _, ref := range slices.Sorted(maps.Keys(t.refs)) {
		key := "resource." + ref
		if strings.HasPrefix(ref, "data.") {
			key = ref
		}
		if _, ok := t.blocks[key]; !ok {
			return nil, fmt.Errorf("%s refers to %s, which nothing declares", t.refs[ref], ref)
		}
	}

	f := hclwrite.NewFile()
	body := f.Body()
	body.AppendUnstructuredTokens(comment(fmt.Sprintf(
		"Cluster %s, spec revision %d, rendered by kapstan: edit the cluster's spec and render again rather than this file.", t.opts.Cluster, t.opts.Revision)))
	body.AppendNewline()

	tf := body.AppendNewBlock("terraform", nil).Body()
	tf.SetAttributeValue("required_version", cty.StringVal(requiredTerraform))
	tf.AppendNewBlock("required_providers", nil).Body().SetAttributeRaw("aws", objectTokens(map[string]Expr{
		"source": Literal("hashicorp/aws"), "version": Literal(requiredAWSProvider),
	}, true))
	body.AppendNewline()
	body.AppendNewBlock("provider", []string{"aws"}).Body().SetAttributeValue("region", cty.StringVal(t.opts.Region))

	blocks := slices.SortedFunc(maps.Values(t.blocks), func(a, b *block) int {
		return cmp.Or(cmp.Compare(kindOrder(a.kind), kindOrder(b.kind)), cmp.Compare(a.typ, b.typ), cmp.Compare(a.name, b.name))
	})
	for _, b := range blocks {
		body.AppendNewline()
		body.AppendBlock(b.contents)
	}

	t.Output("cluster_name", Literal(t.opts.Cluster))
	t.Output("region", Literal(t.opts.Region))
	if t.err != nil {
		return nil, t.err
	}
	for _, name := range slices.Sorted(maps.Keys(t.outputs)) {
		o := t.outputs[name]
		var value hclwrite.Tokens
		switch {
		case o.value != nil:
			value = hclwrite.Tokens(o.value)
		case o.entries != nil:
			value = objectTokens(o.entries, false)
		default:
			value = hclwrite.Tokens(o.fallback)
		}
		body.AppendNewline()
		body.AppendNewBlock("output", []string{name}).Body().SetAttributeRaw("value", value)
	}

	files := maps.Clone(t.files)
	files[MainFile] = f.Bytes() // formats as terraform fmt does (hclwrite aligns as it writes)
	return files, nil
}

func kindOrder(kind string) int {
	if kind == "data" {
		return 0
	}
	return 1
}

func comment(text string) hclwrite.Tokens {
	return hclwrite.Tokens{{Type: hclsyntax.TokenComment, Bytes: []byte("# " + text + "\n")}}
}
