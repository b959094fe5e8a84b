// Package toolbox holds helpers around the cluster manifests. Template
// renders manifests from Go templates and values, so one template can make
// many similar clusters.
package toolbox

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	yaml3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"
)

// File is a named input: a template or a values file.
type File struct {
	Name string
	Data []byte
}

// Values are template values: YAML maps, merged.
type Values map[string]any

// MergeValues reads values files and merges them left to right: a later
// file's map entries override and extend an earlier's, and anything else
// (scalars, lists) replaces it.
func MergeValues(files []File) (Values, error) {
	out := Values{}
	for _, f := range files {
		var v map[string]any
		// YAML 1.2 scalars: "y", "no" and "on" stay strings.
		if err := yaml3.Unmarshal(f.Data, &v); err != nil {
			return nil, fmt.Errorf("values %s: %w", f.Name, err)
		}
		merge(out, v)
	}
	return out, nil
}

func merge(dst, src map[string]any) {
	for k, v := range src {
		sm, sok := v.(map[string]any)
		dm, dok := dst[k].(map[string]any)
		if sok && dok {
			merge(dm, sm)
			continue
		}
		if sok {
			v = maps.Clone(sm) // so a later merge into it does not change src
		}
		dst[k] = v
	}
}

// Set applies one --set: "a.b=c" (or several, comma separated) sets the
// value at path a.b, making maps on the way. true, false and integers are
// typed; anything else is a string, so versions like 1.36 stay strings.
func (v Values) Set(expr string) error {
	for part := range strings.SplitSeq(expr, ",") {
		key, val, ok := strings.Cut(part, "=")
		if !ok || key == "" {
			return fmt.Errorf("--set %q: want KEY=VALUE, e.g. cluster.nodes=3", part)
		}
		path := strings.Split(key, ".")
		m := map[string]any(v)
		for i, p := range path[:len(path)-1] {
			if p == "" {
				return fmt.Errorf("--set %q: empty key segment", part)
			}
			next, ok := m[p].(map[string]any)
			if !ok {
				if _, exists := m[p]; exists {
					return fmt.Errorf("--set %q: %s is not a map", part, strings.Join(path[:i+1], "."))
				}
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[path[len(path)-1]] = scalar(val)
	}
	return nil
}

func scalar(s string) any {
	switch s {
	case "true":
		return true
	case "false":
		return false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	return s
}

// MissingValueError names a value a template uses that no values file or
// --set gave.
type MissingValueError struct {
	// Template and Line say where it is used.
	Template string
	Line     int
	// Key is the value's path, e.g. "cluster.name".
	Key string
}

func (e *MissingValueError) Error() string {
	return fmt.Sprintf("%s:%d: value %q is not set: give it in a --values file or with --set %s=…", e.Template, e.Line, e.Key, e.Key)
}

// missingKey matches text/template's error for a map without the key.
var missingKey = regexp.MustCompile(`^template: ([^:]+):(\d+):\d+: executing "[^"]*" at <\.?([^>]*)>: map has no entry for key "([^"]*)"`)

// Render executes each template with values and joins the results as
// YAML documents. A value a template uses but nobody gave is an error (a
// *MissingValueError), not an empty string. Templates share one set, so
// one may define a block ({{define}}) another uses ({{template}} or
// {{include}}); the sprig function library is available.
func Render(templates []File, values Values) ([]byte, error) {
	if len(templates) == 0 {
		return nil, errors.New("no template")
	}
	root := template.New("").Option("missingkey=error")
	funcs := sprig.TxtFuncMap()
	funcs["include"] = func(name string, data any) (string, error) {
		var b strings.Builder
		if err := root.ExecuteTemplate(&b, name, data); err != nil {
			return "", err
		}
		return b.String(), nil
	}
	funcs["toYaml"] = func(v any) (string, error) {
		data, err := yaml.Marshal(v)
		return strings.TrimSuffix(string(data), "\n"), err
	}
	root.Funcs(funcs)
	names := make([]string, len(templates))
	paths := map[string]string{}
	for i, f := range templates {
		paths[filepath.Base(f.Name)] = f.Name
		names[i] = filepath.Base(f.Name)
		if _, err := root.New(names[i]).Parse(string(f.Data)); err != nil {
			return nil, fmt.Errorf("template %s: %w", f.Name, err)
		}
	}
	var out bytes.Buffer
	for i, name := range names {
		var b bytes.Buffer
		if err := root.ExecuteTemplate(&b, name, map[string]any(values)); err != nil {
			return nil, explain(err, templates[i].Name, paths)
		}
		doc := bytes.TrimSpace(b.Bytes())
		if len(doc) == 0 {
			continue
		}
		if out.Len() > 0 && !bytes.HasPrefix(doc, []byte("---")) {
			out.WriteString("---\n")
		}
		out.Write(doc)
		out.WriteByte('\n')
	}
	return out.Bytes(), nil
}

// explain turns a missing key into a *MissingValueError naming its path.
func explain(err error, file string, paths map[string]string) error {
	m := missingKey.FindStringSubmatch(err.Error())
	if m == nil {
		return fmt.Errorf("template %s: %w", file, err)
	}
	line, _ := strconv.Atoi(m[2])
	key := strings.TrimPrefix(m[3], "$.")
	// <.a.b> names the whole expression; keep it up to the missing key.
	if i := strings.Index("."+key+".", "."+m[4]+"."); i >= 0 {
		key = strings.TrimPrefix(("." + key)[:i+1+len(m[4])], ".")
	} else {
		key = m[4]
	}
	where := m[1]
	if p, ok := paths[where]; ok {
		where = p
	}
	return &MissingValueError{Template: where, Line: line, Key: key}
}
