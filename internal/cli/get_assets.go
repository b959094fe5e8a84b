package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kapstan/kapstan/internal/assets"
	"github.com/kapstan/kapstan/internal/assets/mirror"
	"github.com/kapstan/kapstan/internal/channels"
)

// GetAssetsOptions are the options of `kapstan get assets`.
type GetAssetsOptions struct {
	*globals
	Name string
	// Copy copies every asset into the mirror from the folder From.
	Copy        bool
	From        string
	Replace     bool
	Concurrency int
	print       *printFlags

	// Set by Complete.
	list *assets.BOM
	repo mirror.Repository
}

func newCmdGetAssets(g *globals) *cobra.Command {
	o := &GetAssetsOptions{globals: g, print: newPrintFlags(formatTable, formatTable, formatYAML, formatJSON)}
	cmd := &cobra.Command{
		Use:     "assets NAME [--copy --from DIR]",
		Aliases: []string{"asset"},
		Short:   "List the files and images a cluster's machines download, or copy them into its mirror",
		Long: `List every file and container image the cluster's machines need: the node
agent (nodeup), containerd, runc, the CNI plugins, the kubelet, and the images
of pause, etcd, the control plane, kube-proxy, CoreDNS and each add-on, with
its version (from the spec and the cluster's channel, never "latest"), where
it comes from upstream, its path in the mirror and, once copied, its SHA-256
and size (read from the mirror's bill of materials).

Machines download only from the cluster's mirror: spec.assets.fileRepository
(s3://BUCKET/PREFIX, file:///DIR or https://...), by default the folder
NAME/assets of the state store; and spec.assets.imageRepository for images,
or, when it is unset, image archives in the file repository.

--copy --from DIR copies every asset into the file repository (s3:// or
file://). DIR is laid out as the mirror: each asset at its PATH under DIR,
e.g. DIR/kubernetes/v1.36.3/linux/amd64/kubelet and
DIR/images/pause/3.10.1/linux/amd64/pause.tar (an image archive that
"ctr images import" reads); a file:// mirror is itself a valid DIR. Every
file is hashed first: an asset missing from DIR, or one whose SHA-256 differs
from what the mirror or its bill of materials holds, stops the copy before
anything is written (--replace overwrites instead). Files already in the
mirror with the same SHA-256 are skipped. Last, the bill of materials, every
asset with its SHA-256 and size, is written to bom/NAME.yaml in the file
repository. Images to pull from an image repository are not copied.`,
		Example: `  kapstan get assets demo.k8s.local
  kapstan get assets demo.k8s.local -o json
  kapstan get assets demo.k8s.local --copy --from ./mirror`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeClusterArg(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if err := o.Validate(); err != nil {
				return err
			}
			if err := o.Complete(cmd.Context()); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.Copy, "copy", false, "copy every asset into the cluster's file repository")
	f.StringVar(&o.From, "from", "", "with --copy, the folder to copy from, laid out as the mirror (DIR/PATH)")
	f.BoolVar(&o.Replace, "replace", false, "with --copy, overwrite mirror files whose SHA-256 differs from DIR's")
	f.IntVar(&o.Concurrency, "concurrency", mirror.DefaultConcurrency, "with --copy, files copied at once")
	_ = cmd.MarkFlagDirname("from")
	o.print.AddFlags(cmd)
	return cmd
}

// Validate checks the flags together, without IO.
func (o *GetAssetsOptions) Validate() error {
	if err := o.print.Validate(); err != nil {
		return err
	}
	switch {
	case o.Copy && o.From == "":
		return errors.New("--copy needs --from DIR: kapstan does not download from upstream yet; put each asset in DIR at its path in the mirror (kapstan get assets NAME shows the paths)")
	case !o.Copy && (o.From != "" || o.Replace):
		return errors.New("--from and --replace are for --copy")
	case o.Concurrency < 1:
		return fmt.Errorf("--concurrency %d: must be at least 1", o.Concurrency)
	}
	return nil
}

// Complete reads the cluster and its channel, lists its assets and opens
// its file repository.
func (o *GetAssetsOptions) Complete(ctx context.Context) error {
	reg, snap, err := o.Cluster(ctx, o.Name)
	if err != nil {
		return err
	}
	ch, err := channels.ForCluster(ctx, reg.Store(), o.Name)
	if err != nil {
		return err
	}
	c := snap.Manifests.Cluster
	list, err := assets.ForCluster(snap.Manifests, ch, assets.Options{AgentVersion: o.env.Version})
	if err != nil {
		return err
	}
	fileRepo, err := c.FileRepository(reg.Store().URL())
	if err != nil {
		return err
	}
	o.list = assets.NewBOM(assets.KindList, o.Name, fileRepo, c.ImageRepository(), list)
	if o.repo, err = mirror.Open(ctx, fileRepo, c.Spec.Region); err != nil {
		return err
	}
	if o.From != "" {
		if o.From, err = filepath.Abs(o.From); err != nil {
			return fmt.Errorf("--from: %w", err)
		}
		if st, err := os.Stat(o.From); err != nil || !st.IsDir() {
			return fmt.Errorf("--from %s: not a folder (%v)", o.From, err)
		}
	}
	return nil
}

// Run prints the assets, or copies them.
func (o *GetAssetsOptions) Run(ctx context.Context) error {
	if o.Copy {
		return o.copy(ctx)
	}
	bom, err := mirror.ReadBOM(ctx, o.repo, o.Name)
	if err != nil && !errors.Is(err, mirror.ErrNotExist) {
		return err
	}
	list := *o.list
	list.Assets = assets.WithHashes(o.list.Assets, bom)
	switch o.print.output {
	case formatJSON:
		return writeJSON(o.Out, list)
	case formatYAML:
		return writeYAML(o.Out, list)
	}
	fmt.Fprintf(o.Out, "File repository:  %s\n", list.FileRepository)
	if list.ImageRepository != "" {
		fmt.Fprintf(o.Out, "Image repository: %s\n", list.ImageRepository)
	} else {
		fmt.Fprintf(o.Out, "Image repository: none (images are archives in the file repository)\n")
	}
	if bom != nil {
		fmt.Fprintf(o.Out, "Hashes from:      %s\n\n", filepath.ToSlash(o.repo.URL()+"/"+assets.BOMPath(o.Name)))
	} else {
		fmt.Fprintf(o.Out, "Hashes from:      nothing yet (kapstan get assets %s --copy --from DIR writes them)\n\n", o.Name)
	}
	return printAssetTable(o.Out, list.Assets)
}

// copy copies the assets into the mirror and says what it did.
func (o *GetAssetsOptions) copy(ctx context.Context) error {
	progress := func(e mirror.Event) {
		if o.print.output == formatTable {
			fmt.Fprintf(o.ErrOut, "%-7s %s %s\n", e.Action, e.Asset.Name, e.Asset.Version)
		}
	}
	res, err := mirror.Copy(ctx, o.repo, o.From, o.list, mirror.Options{Replace: o.Replace, Concurrency: o.Concurrency, Progress: progress})
	if err != nil {
		return err
	}
	summary := copySummary{FileRepository: o.repo.URL(), BOM: res.BOMURL, Copied: res.Copied, Skipped: res.Skipped, NotCopied: res.NotCopied}
	switch o.print.output {
	case formatJSON:
		return writeJSON(o.Out, summary)
	case formatYAML:
		return writeYAML(o.Out, summary)
	}
	fmt.Fprintf(o.Out, "Copied %d and skipped %d (already there) of the assets of %q into %s.\nBill of materials: %s\n",
		len(res.Copied), len(res.Skipped), o.Name, o.repo.URL(), res.BOMURL)
	if len(res.NotCopied) > 0 {
		fmt.Fprintf(o.Out, "Not copied: %s; machines pull them from %s: push them there yourself.\n", strings.Join(res.NotCopied, ", "), o.list.ImageRepository)
	}
	return nil
}

// copySummary is what `get assets --copy -o json|yaml` prints.
type copySummary struct {
	FileRepository string   `json:"fileRepository"`
	BOM            string   `json:"bom"`
	Copied         []string `json:"copied"`
	Skipped        []string `json:"skipped"`
	NotCopied      []string `json:"notCopied,omitempty"`
}

// printAssetTable writes one row per asset; a hash is shortened to 12
// digits, and "-" stands for what is not known yet.
func printAssetTable(w io.Writer, list []assets.Asset) error {
	t := newTable(w, "NAME", "KIND", "VERSION", "SOURCE", "SHA256", "SIZE")
	for _, a := range list {
		sha, size := "-", "-"
		if a.SHA256 != "" {
			sha = a.SHA256[:min(12, len(a.SHA256))]
		}
		if a.Size > 0 {
			size = humanBytes(a.Size)
		}
		t.row(a.Name, string(a.Kind), a.Version, a.Source, sha, size)
	}
	return t.flush()
}

// humanBytes writes a size with a binary unit: 512B, 1.5KiB, 52.3MiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
