package cli

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExportKubeconfigPath(t *testing.T) {
	for _, tc := range []struct {
		name string
		flag string
		env  map[string]string
		want string
		err  string
	}{
		{name: "flag wins", flag: "/x/config", env: map[string]string{"KUBECONFIG": "/k/a", "HOME": "/h"}, want: "/x/config"},
		{name: "first KUBECONFIG file", env: map[string]string{"KUBECONFIG": "/k/a" + string(filepath.ListSeparator) + "/k/b", "HOME": "/h"}, want: "/k/a"},
		{name: "home", env: map[string]string{"HOME": "/h"}, want: "/h/.kube/config"},
		{name: "nowhere", env: map[string]string{}, err: "say where"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &globals{env: Environment{Getenv: func(k string) string { return tc.env[k] }}}
			o := &ExportKubeconfigOptions{globals: g, Kubeconfig: tc.flag}
			err := o.Complete()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Complete: %v, want an error saying %q", err, tc.err)
				}
				return
			}
			if err != nil || o.Kubeconfig != tc.want {
				t.Errorf("Complete: %q, %v; want %q", o.Kubeconfig, err, tc.want)
			}
		})
	}
}

func TestExportKubeconfigValidate(t *testing.T) {
	for _, tc := range []struct {
		admin time.Duration
		ok    bool
	}{{0, false}, {30 * time.Second, false}, {time.Hour, true}, {18 * time.Hour, true}, {1000 * time.Hour, false}} {
		err := (&ExportKubeconfigOptions{Admin: tc.admin}).Validate()
		if (err == nil) != tc.ok {
			t.Errorf("--admin %s: %v, want ok=%v", tc.admin, err, tc.ok)
		}
	}
}

// TestNodeupFlags: --config and --cluster/--instance-group exclude each
// other, and --root is required.
func TestNodeupFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"nodeup", "--root", "/tmp/x"}, "name the node configuration"},
		{[]string{"nodeup", "--config", "f", "--cluster", "c", "--root", "/tmp/x"}, "alternatives"},
		{[]string{"nodeup", "--cluster", "c", "--root", "/tmp/x"}, "name the node configuration"},
		{[]string{"nodeup", "--config", "f"}, `"root" not set`},
	} {
		var out bytes.Buffer
		root := NewRootCommand(IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &out}, Environment{Getenv: func(string) string { return "" }})
		root.SetArgs(tc.args)
		err := root.ExecuteContext(t.Context())
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%v: %v, want an error saying %q", tc.args, err, tc.err)
		}
	}
}
