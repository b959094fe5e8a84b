package cli

import (
	"slices"
	"strings"
	"testing"
)

// TestCompletionOfNewCommands asks the shell-completion entry point what it
// offers for the verbs, flags and names of addons, upgrade and toolbox.
func TestCompletionOfNewCommands(t *testing.T) {
	dir := t.TempDir()
	run := kapstanCmd(t, dir)
	if out, err := run("create", "cluster", "demo.k8s.local", "--zones", "us-east-1a", "--kubernetes-version", "1.34.5"); err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	cases := []struct {
		name string
		args []string
		want []string
		not  []string
	}{
		{"verbs", []string{""}, []string{"upgrade", "toolbox", "apply"}, nil},
		{"apply subcommands", []string{"apply", ""}, []string{"addons"}, nil},
		{"apply addons cluster", []string{"apply", "addons", ""}, []string{"demo.k8s.local"}, nil},
		{"apply addons flags", []string{"apply", "addons", "demo.k8s.local", "--"}, []string{"--kubeconfig", "--addons-wait"}, nil},
		{"update flags", []string{"update", "cluster", "demo.k8s.local", "--"}, []string{"--kubeconfig", "--addons-wait"}, nil},
		{"upgrade cluster", []string{"upgrade", "cluster", ""}, []string{"demo.k8s.local"}, nil},
		{"upgrade flags", []string{"upgrade", "cluster", "demo.k8s.local", "--"}, []string{"--yes", "--channel", "--to"}, nil},
		{"upgrade --to", []string{"upgrade", "cluster", "demo.k8s.local", "--to", ""}, []string{"1.35.4"}, []string{"1.33.8", "1.34.5", "1.36.3"}},
		{"upgrade --channel", []string{"upgrade", "cluster", "demo.k8s.local", "--channel", ""}, []string{"yaml", "yml"}, nil},
		{"toolbox", []string{"toolbox", ""}, []string{"template"}, nil},
		{"toolbox template flags", []string{"toolbox", "template", "--"}, []string{"--template", "--values", "--set", "--output"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(append([]string{"__complete"}, tc.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for line := range strings.SplitSeq(out, "\n") {
				if line == "" || strings.HasPrefix(line, ":") || strings.HasPrefix(line, "Completion ended") {
					continue
				}
				got = append(got, strings.SplitN(line, "\t", 2)[0])
			}
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("offers %v, missing %q", got, w)
				}
			}
			for _, n := range tc.not {
				if slices.Contains(got, n) {
					t.Errorf("offers %q: %v", n, got)
				}
			}
		})
	}
}
