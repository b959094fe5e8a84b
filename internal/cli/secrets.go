package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"github.com/kapstan/kapstan/internal/pki"
)

// Secret types as `get secrets` shows them.
const (
	secretTypeSSHPublicKey = "SSHPublicKey"
	secretTypeSecret       = "Secret"
)

func newCmdCreateSecret(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secret",
		Short: "Add a secret to a cluster",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newCmdCreateSecretSSHPublicKey(g))
	return cmd
}

// CreateSSHPublicKeyOptions are the options of `kapstan create secret
// sshpublickey`.
type CreateSSHPublicKeyOptions struct {
	*globals
	ClusterName string
	File        string

	key string
}

func newCmdCreateSecretSSHPublicKey(g *globals) *cobra.Command {
	o := &CreateSSHPublicKeyOptions{globals: g}
	cmd := &cobra.Command{
		Use:   "sshpublickey --name CLUSTER -i FILE",
		Short: "Set the SSH public key installed on the cluster's instances",
		Long: `Set the SSH public key (OpenSSH format, e.g. ~/.ssh/id_ed25519.pub) that is
installed on every instance of the cluster. The key is part of the cluster's
spec (spec.sshPublicKey), so this makes a new revision of the spec; the next
update cluster imports it into EC2 and rolling-update puts it on instances.
EC2 accepts RSA and ED25519 keys.`,
		Example: "  kapstan create secret sshpublickey --name demo.k8s.local -i ~/.ssh/id_ed25519.pub",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&o.ClusterName, "name", "", "the cluster (required)")
	cmd.Flags().StringVarP(&o.File, "filename", "i", "", "the public key file, - for standard input (required)")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("filename")
	_ = cmd.RegisterFlagCompletionFunc("name", completeClusterNames(g))
	return cmd
}

// Complete reads and checks the key.
func (o *CreateSSHPublicKeyOptions) Complete() error {
	var data []byte
	var err error
	if o.File == "-" {
		data, err = io.ReadAll(o.In)
	} else {
		data, err = os.ReadFile(o.File)
	}
	if err != nil {
		return fmt.Errorf("reading the SSH public key: %w", err)
	}
	key := strings.TrimSpace(string(data))
	if strings.Contains(key, "PRIVATE KEY") {
		return fmt.Errorf("%s holds a private key: give the public one (.pub)", o.File)
	}
	pub, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(key))
	if err != nil {
		return fmt.Errorf("%s: not an OpenSSH public key: %w", o.File, err)
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return fmt.Errorf("%s holds more than one key: give one", o.File)
	}
	if t := pub.Type(); t != ssh.KeyAlgoRSA && t != ssh.KeyAlgoED25519 {
		return fmt.Errorf("%s: a %s key; EC2 accepts only RSA and ED25519 keys", o.File, t)
	}
	o.key = key
	return nil
}

// Run stores the key in the spec.
func (o *CreateSSHPublicKeyOptions) Run(ctx context.Context) error {
	reg, err := o.Registry(ctx)
	if err != nil {
		return err
	}
	head, err := reg.Get(ctx, o.ClusterName)
	if err != nil {
		return err
	}
	fp := fingerprint(o.key)
	old := head.Manifests.Cluster.Spec.SSHPublicKey
	if old == o.key {
		fmt.Fprintf(o.Out, "cluster %q already has SSH public key %s: nothing to do\n", o.ClusterName, fp)
		return nil
	}
	next := head.Manifests.DeepCopy()
	next.Cluster.Spec.SSHPublicKey = o.key
	snap, err := reg.Update(ctx, head, next, "create secret sshpublickey "+fp)
	if err != nil {
		return fmt.Errorf("setting the SSH public key of %q: %w", o.ClusterName, err)
	}
	verb := "set"
	if old != "" {
		verb = "replaced " + fingerprint(old) + " with"
	}
	fmt.Fprintf(o.Out, "cluster %q: SSH public key %s %s (revision %d); apply it with kapstan update cluster %s --yes\n",
		o.ClusterName, verb, fp, snap.Revision, o.ClusterName)
	return nil
}

// fingerprint is the OpenSSH SHA256 fingerprint of an authorized_keys line.
func fingerprint(key string) string {
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(key))
	if err != nil {
		return "(unparsable key)"
	}
	return ssh.FingerprintSHA256(pub)
}

// GetSecretsOptions are the options of `kapstan get secrets`.
type GetSecretsOptions struct {
	*globals
	ClusterName string
	Reveal      bool
	print       *printFlags
}

func newCmdGetSecrets(g *globals) *cobra.Command {
	o := &GetSecretsOptions{globals: g, print: newPrintFlags(formatTable, formatTable, formatYAML, formatJSON)}
	cmd := &cobra.Command{
		Use:     "secrets --name CLUSTER",
		Aliases: []string{"secret"},
		Short:   "List a cluster's secrets; values only with --reveal",
		Long: `List the cluster's secrets: the SSH public key of its instances and the
secrets kapstan made (encryption-key, which encrypts Kubernetes Secrets in
etcd). Each is shown with a fingerprint; its value only with --reveal.
Private keys of the cluster's keypairs are never shown: see get keypairs.`,
		Example: "  kapstan get secrets --name demo.k8s.local\n  kapstan get secrets --name demo.k8s.local --reveal -o yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.print.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&o.ClusterName, "name", "", "the cluster (required)")
	cmd.Flags().BoolVar(&o.Reveal, "reveal", false, "show the secrets' values")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.RegisterFlagCompletionFunc("name", completeClusterNames(g))
	o.print.AddFlags(cmd)
	return cmd
}

// secretView is one secret as printed. Value is empty unless revealed.
type secretView struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Fingerprint string `json:"fingerprint"`
	Value       string `json:"value,omitempty"`
}

// Run lists the secrets.
func (o *GetSecretsOptions) Run(ctx context.Context) error {
	reg, snap, err := o.Cluster(ctx, o.ClusterName)
	if err != nil {
		return err
	}
	var views []secretView
	if key := snap.Manifests.Cluster.Spec.SSHPublicKey; key != "" {
		v := secretView{Name: "sshpublickey", Type: secretTypeSSHPublicKey, Fingerprint: fingerprint(key)}
		if o.Reveal {
			v.Value = key
		}
		views = append(views, v)
	}
	secrets := pki.NewSecrets(reg.Store(), o.ClusterName)
	ids, err := secrets.List(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		val, err := secrets.Get(ctx, id)
		if errors.Is(err, pki.ErrSecretNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return err
		}
		v := secretView{Name: id, Type: secretTypeSecret, Fingerprint: val.Fingerprint()}
		if o.Reveal {
			v.Value = string(val)
		}
		views = append(views, v)
	}
	switch o.print.output {
	case formatJSON:
		return writeJSON(o.Out, views)
	case formatYAML:
		return writeYAML(o.Out, views)
	}
	if len(views) == 0 {
		fmt.Fprintf(o.ErrOut, "Cluster %q has no secrets yet\n", o.ClusterName)
		return nil
	}
	headers := []string{"NAME", "TYPE", "FINGERPRINT"}
	if o.Reveal {
		headers = append(headers, "VALUE")
	}
	t := newTable(o.Out, headers...)
	for _, v := range views {
		cells := []string{v.Name, v.Type, v.Fingerprint}
		if o.Reveal {
			cells = append(cells, v.Value)
		}
		t.row(cells...)
	}
	return t.flush()
}
