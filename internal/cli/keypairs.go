package cli

import (
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kapstan/kapstan/internal/pki"
)

// GetKeypairsOptions are the options of `kapstan get keypairs`.
type GetKeypairsOptions struct {
	*globals
	ClusterName string
	IDs         []string
	print       *printFlags
}

func newCmdGetKeypairs(g *globals) *cobra.Command {
	o := &GetKeypairsOptions{globals: g, print: newPrintFlags(formatTable, formatTable, formatYAML, formatJSON)}
	cmd := &cobra.Command{
		Use:     "keypairs [ID...] --name CLUSTER",
		Aliases: []string{"keypair"},
		Short:   "List a cluster's certificate authorities and certificates",
		Long: `List the keypairs in the cluster's state store: each certificate's subject,
issuer, names and validity, and whether its private key is stored. Private
keys are never printed. A certificate that is corrupted or expired is listed
with what is wrong.`,
		Example: "  kapstan get keypairs --name demo.k8s.local\n  kapstan get keypair kube-apiserver --name demo.k8s.local -o yaml",
		RunE: func(cmd *cobra.Command, args []string) error {
			o.IDs = args
			if err := o.print.Validate(); err != nil {
				return err
			}
			return o.Run(cmd)
		},
	}
	cmd.Flags().StringVar(&o.ClusterName, "name", "", "the cluster (required)")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.RegisterFlagCompletionFunc("name", completeClusterNames(g))
	o.print.AddFlags(cmd)
	return cmd
}

// keypairView is one keypair as printed: public data only.
type keypairView struct {
	ID          string    `json:"id"`
	CA          bool      `json:"ca"`
	Subject     string    `json:"subject,omitempty"`
	Issuer      string    `json:"issuer,omitempty"`
	Serial      string    `json:"serial,omitempty"`
	NotBefore   time.Time `json:"notBefore,omitzero"`
	NotAfter    time.Time `json:"notAfter,omitzero"`
	DNSNames    []string  `json:"dnsNames,omitempty"`
	IPAddresses []string  `json:"ipAddresses,omitempty"`
	Usage       []string  `json:"usage,omitempty"`
	PrivateKey  string    `json:"privateKey"`
	Error       string    `json:"error,omitempty"`
}

func viewKeypair(info pki.Info) keypairView {
	v := keypairView{ID: info.ID, PrivateKey: "stored"}
	if !info.HasPrivateKey {
		v.PrivateKey = "missing"
	}
	if info.Err != nil {
		v.Error = info.Err.Error()
	}
	c := info.Cert
	if c == nil {
		return v
	}
	v.CA, v.Subject, v.Issuer = c.IsCA, c.Subject.String(), c.Issuer.String()
	v.Serial = fmt.Sprintf("%x", c.SerialNumber)
	v.NotBefore, v.NotAfter = c.NotBefore.UTC(), c.NotAfter.UTC()
	v.DNSNames = c.DNSNames
	for _, ip := range c.IPAddresses {
		v.IPAddresses = append(v.IPAddresses, ip.String())
	}
	for _, u := range c.ExtKeyUsage {
		switch u {
		case x509.ExtKeyUsageServerAuth:
			v.Usage = append(v.Usage, "server")
		case x509.ExtKeyUsageClientAuth:
			v.Usage = append(v.Usage, "client")
		}
	}
	return v
}

// Run prints the keypairs.
func (o *GetKeypairsOptions) Run(cmd *cobra.Command) error {
	ctx := cmd.Context()
	reg, err := o.Registry(ctx)
	if err != nil {
		return err
	}
	if _, err := reg.Get(ctx, o.ClusterName); err != nil {
		return err
	}
	infos, err := pki.NewKeystore(reg.Store(), o.ClusterName).List(ctx)
	if err != nil {
		return err
	}
	var views []keypairView
	for _, info := range infos {
		views = append(views, viewKeypair(info))
	}
	if len(o.IDs) > 0 {
		var picked []keypairView
		for _, id := range o.IDs {
			found := false
			for _, v := range views {
				if v.ID == id {
					picked, found = append(picked, v), true
				}
			}
			if !found {
				return fmt.Errorf("keypair %q not found in cluster %q", id, o.ClusterName)
			}
		}
		views = picked
	}
	switch o.print.output {
	case formatJSON:
		return writeJSON(o.Out, views)
	case formatYAML:
		return writeYAML(o.Out, views)
	}
	if len(views) == 0 {
		fmt.Fprintf(o.ErrOut, "Cluster %q has no keypairs yet: they are made by kapstan update cluster %s --yes\n", o.ClusterName, o.ClusterName)
		return nil
	}
	t := newTable(o.Out, "ID", "TYPE", "SUBJECT", "ISSUER", "NOT AFTER", "NAMES", "KEY", "STATUS")
	for _, v := range views {
		typ := "certificate"
		if v.CA {
			typ = "CA"
		}
		status := "ok"
		if v.Error != "" {
			status = v.Error
		}
		notAfter := ""
		if !v.NotAfter.IsZero() {
			notAfter = v.NotAfter.Format(time.RFC3339)
		}
		t.row(v.ID, typ, v.Subject, v.Issuer, notAfter, shortNames(v.DNSNames, v.IPAddresses), v.PrivateKey, status)
	}
	return t.flush()
}

// shortNames joins names for a table cell, eliding long lists.
func shortNames(dns, ips []string) string {
	all := append(append([]string(nil), dns...), ips...)
	if len(all) > 3 {
		return strings.Join(all[:3], ",") + fmt.Sprintf(",… (%d)", len(all))
	}
	return strings.Join(all, ",")
}
