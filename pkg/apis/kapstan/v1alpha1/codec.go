package v1alpha1

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	yaml3 "go.yaml.in/yaml/v3"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// DecodeError is a problem at a place in a manifest file.
type DecodeError struct {
	// File is the name the manifest was read from ("-" for standard input).
	File string
	// Line is 1-based; 0 when unknown.
	Line int
	// Field is the field path, e.g. "spec.subnets[0].cidr", when known.
	Field string
	// Msg says what is wrong.
	Msg string
}

func (e *DecodeError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Decode reads a stream of YAML documents (separated by "---") holding at
// most one Cluster and any number of InstanceGroups. Decoding is strict: an
// unknown or duplicated field, a wrong type, an unknown kind or apiVersion is
// an error naming the field and its line. Decode neither defaults nor
// validates; callers do both (see SetDefaults and Validate).
func Decode(file string, data []byte) (*Manifests, error) {
	m := &Manifests{}
	dec := yaml3.NewDecoder(bytes.NewReader(data))
	var errs []error
	for {
		var doc yaml3.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &DecodeError{File: file, Msg: "not valid YAML: " + err.Error()}
		}
		if len(doc.Content) == 0 || doc.Content[0].Tag == "!!null" {
			continue // an empty document, e.g. after a trailing "---"
		}
		if err := decodeDocument(file, &doc, m); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if m.Cluster == nil && len(m.InstanceGroups) == 0 {
		return nil, &DecodeError{File: file, Msg: "holds no Cluster or InstanceGroup"}
	}
	return m, nil
}

func decodeDocument(file string, doc *yaml3.Node, m *Manifests) error {
	root := doc.Content[0]
	if root.Kind != yaml3.MappingNode {
		return &DecodeError{File: file, Line: root.Line, Msg: "a document must be a mapping with apiVersion, kind, metadata and spec"}
	}
	if err := duplicateKeys(file, root, ""); err != nil {
		return err
	}
	raw, err := yaml3.Marshal(doc)
	if err != nil {
		return &DecodeError{File: file, Line: root.Line, Msg: err.Error()}
	}
	js, err := yaml.YAMLToJSONStrict(raw)
	if err != nil {
		return &DecodeError{File: file, Line: root.Line, Msg: err.Error()}
	}
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(js, &tm); err != nil {
		return &DecodeError{File: file, Line: root.Line, Msg: "reading apiVersion and kind: " + err.Error()}
	}
	if tm.APIVersion != APIVersion {
		return &DecodeError{File: file, Line: lineOf(root, "apiVersion"), Field: "apiVersion",
			Msg: fmt.Sprintf("%q is not supported; use %s", tm.APIVersion, APIVersion)}
	}
	var obj any
	switch tm.Kind {
	case KindCluster:
		if m.Cluster != nil {
			return &DecodeError{File: file, Line: root.Line, Field: "kind", Msg: "a second Cluster; a manifest holds one Cluster and its InstanceGroups"}
		}
		m.Cluster = &Cluster{}
		obj = m.Cluster
	case KindInstanceGroup:
		ig := &InstanceGroup{}
		m.InstanceGroups = append(m.InstanceGroups, ig)
		obj = ig
	default:
		return &DecodeError{File: file, Line: lineOf(root, "kind"), Field: "kind",
			Msg: fmt.Sprintf("%q is not a kind of %s; use %s or %s", tm.Kind, APIVersion, KindCluster, KindInstanceGroup)}
	}
	strictErrs, err := sigsjson.UnmarshalStrict(js, obj, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	var errs []error
	if err != nil {
		errs = append(errs, fieldError(file, root, err))
	}
	for _, se := range strictErrs {
		errs = append(errs, fieldError(file, root, se))
	}
	return errors.Join(errs...)
}

// fieldError turns a JSON decoding error into a DecodeError that points at
// the field's line in the YAML document.
func fieldError(file string, root *yaml3.Node, err error) error {
	var fe sigsjson.FieldError
	if !errors.As(err, &fe) {
		// Type errors carry their path only in the message:
		// "json: cannot unmarshal string into Go struct field X.spec.minSize of type int32".
		if m := typeErrorPattern.FindStringSubmatch(err.Error()); m != nil {
			return &DecodeError{File: file, Line: lineOfPath(root, m[2]), Field: m[2], Msg: fmt.Sprintf("cannot unmarshal %s into a field of type %s", m[1], m[3])}
		}
		return &DecodeError{File: file, Line: root.Line, Msg: err.Error()}
	}
	path := fe.FieldPath()
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "unknown field"):
		msg = "unknown field"
	case strings.HasPrefix(msg, "duplicate field"):
		msg = "duplicate field"
	default:
		msg = strings.TrimPrefix(msg, "json: ")
	}
	return &DecodeError{File: file, Line: lineOfPath(root, path), Field: path, Msg: msg}
}

var typeErrorPattern = regexp.MustCompile(`cannot unmarshal (\S+) into Go struct field \w+\.(\S+) of type (\S+)`)

// duplicateKeys finds a key given twice in one mapping, anywhere in the
// document. YAML forbids it, and silently keeping one value hides mistakes.
func duplicateKeys(file string, n *yaml3.Node, path string) error {
	switch n.Kind {
	case yaml3.MappingNode:
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			p := k
			if path != "" {
				p = path + "." + k
			}
			if seen[k] {
				return &DecodeError{File: file, Line: n.Content[i].Line, Field: p, Msg: "duplicate field"}
			}
			seen[k] = true
			if err := duplicateKeys(file, n.Content[i+1], p); err != nil {
				return err
			}
		}
	case yaml3.SequenceNode:
		for i, c := range n.Content {
			if err := duplicateKeys(file, c, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// lineOf is the line of key in mapping node n, or n's own line.
func lineOf(n *yaml3.Node, key string) int {
	if v := child(n, key); v != nil {
		return v.Line
	}
	return n.Line
}

// lineOfPath walks a field path such as "spec.subnets[2].foo" through the
// YAML tree and returns the line of the deepest node it reaches.
func lineOfPath(root *yaml3.Node, path string) int {
	n, line := root, root.Line
	for seg := range strings.SplitSeq(path, ".") {
		name, rest, _ := strings.Cut(seg, "[")
		if name != "" {
			k := childKey(n, name)
			if k == nil {
				return line
			}
			line, n = k.Line, child(n, name)
		}
		for rest != "" {
			idx, after, _ := strings.Cut(rest, "]")
			i, err := strconv.Atoi(idx)
			if err != nil || n.Kind != yaml3.SequenceNode || i >= len(n.Content) {
				return line
			}
			n = n.Content[i]
			line = n.Line
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return line
}

func childKey(n *yaml3.Node, key string) *yaml3.Node {
	if n == nil || n.Kind != yaml3.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i]
		}
	}
	return nil
}

func child(n *yaml3.Node, key string) *yaml3.Node {
	if n == nil || n.Kind != yaml3.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// Encode writes manifests as a stream of YAML documents: the Cluster first,
// then its InstanceGroups sorted by name. The output decodes back to equal
// manifests.
func Encode(m *Manifests) ([]byte, error) {
	var buf bytes.Buffer
	var docs []any
	if m.Cluster != nil {
		docs = append(docs, m.Cluster)
	}
	igs := slices.Clone(m.InstanceGroups)
	slices.SortFunc(igs, func(a, b *InstanceGroup) int { return strings.Compare(a.Metadata.Name, b.Metadata.Name) })
	for _, ig := range igs {
		docs = append(docs, ig)
	}
	for i, d := range docs {
		out, err := yaml.Marshal(d)
		if err != nil {
			return nil, fmt.Errorf("encoding manifest: %w", err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(out)
	}
	return buf.Bytes(), nil
}

// EncodeObject writes one Cluster or InstanceGroup as YAML.
func EncodeObject(obj any) ([]byte, error) {
	return yaml.Marshal(obj)
}
