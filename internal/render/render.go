// Package render writes a cluster's resources as files for another tool to
// apply: a Terraform configuration or a CloudFormation template. The
// targets live in the subpackages; this package picks one and writes its
// files to a folder.
package render

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kapstan/kapstan/internal/engine"
	"github.com/kapstan/kapstan/internal/render/cloudformation"
	"github.com/kapstan/kapstan/internal/render/terraform"
)

// Target is where a cluster's resources go.
type Target string

// Targets. Direct means kapstan applies the plan through the AWS API.
const (
	Direct         Target = "direct"
	Terraform      Target = "terraform"
	CloudFormation Target = "cloudformation"
)

// Targets lists the targets, for flags and messages.
func Targets() []Target { return []Target{Direct, Terraform, CloudFormation} }

// ParseTarget checks a target's name.
func ParseTarget(s string) (Target, error) {
	t := Target(strings.ToLower(s))
	if !slices.Contains(Targets(), t) {
		return "", fmt.Errorf("target %q: must be one of direct, terraform, cloudformation", s)
	}
	return t, nil
}

// Files reports whether the target renders files (every one but Direct).
func (t Target) Files() bool { return t == Terraform || t == CloudFormation }

// Options say what the files are for.
type Options struct {
	Cluster  string
	Region   string
	Revision int
}

// Files renders resources for a file target: the files by path relative
// to the output folder. The same resources always give the same bytes.
func Files(target Target, resources []engine.Resource, opts Options) (map[string][]byte, error) {
	switch target {
	case Terraform:
		return terraform.Render(resources, terraform.Options{Cluster: opts.Cluster, Region: opts.Region, Revision: opts.Revision})
	case CloudFormation:
		return cloudformation.Render(resources, cloudformation.Options{Cluster: opts.Cluster, Region: opts.Region, Revision: opts.Revision})
	}
	return nil, fmt.Errorf("target %q renders no files", target)
}

// WriteDir writes files under dir, creating folders as needed. Each file
// is written to a temporary name and renamed, so a reader never sees half
// a file. Files already in dir that are not in files are left alone.
func WriteDir(dir string, files map[string][]byte) error {
	for _, rel := range slices.Sorted(maps.Keys(files)) {
		if !filepath.IsLocal(rel) {
			return fmt.Errorf("writing %s: not a path inside %s", rel, dir)
		}
		path := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		tmp := path + ".kapstan-tmp"
		if err := os.WriteFile(tmp, files[rel], 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		if err := os.Rename(tmp, path); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return nil
}
